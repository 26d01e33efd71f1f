"""Study presets build valid run lists; the runner trains, skips finished runs and writes one report."""
import pytest

from mmvae.config import validate
from mmvae.experiments import STUDIES, build_study, run_study
from mmvae.experiments.presets import Study

from .conftest import tiny_config


@pytest.mark.parametrize("name", STUDIES.names())
@pytest.mark.parametrize("quick", [True, False])
def test_presets_are_valid(name, quick):
    study = build_study(name, quick, dataset="synthetic")
    assert study.runs and study.full_runtime
    for _, cfg in study.runs:
        validate(cfg)
    if name == "decoder-scale":
        assert sorted({c.model.decoder_scale for _, c in study.runs}) == [0.05, 0.2, 0.35, 0.5, 0.75, 0.9]
    if name == "seed-table":
        assert {c.train.obj for _, c in study.runs} == {"elbo_naive", "infoNCE_naive", "fission"}
        assert len({c.train.seed for _, c in study.runs}) >= 2
    if name == "paper":
        cfg = study.runs[0][1]
        assert (cfg.model.distr, cfg.train.obj, cfg.train.looser, cfg.model.learn_prior) == ("Laplace", "dreg", True, True)
    if name == "polymnist":
        assert {c.model.model for _, c in study.runs} == {"mmvae", "mvae", "mopoe", "mmvaeplus"}
        assert {c.data.dataset for _, c in study.runs} == {"polymnist"}
        assert len({(c.train.epochs, c.data.synthetic_train) for _, c in study.runs}) == 1  # equal budget
    if name == "factorised":
        labels = {label for label, _ in study.runs}
        assert len(labels) == 10 and len(study.runs) == 30  # 5 variants × 2 datasets × 3 seeds
        assert {c.data.dataset for _, c in study.runs} == {"mnist_synthsvhn", "polymnist"}
        variants = {(c.model.model, c.train.obj, c.model.options.get("variant")) for _, c in study.runs}
        assert ("mmvaeplus", "elbo", "mmvaeplus") in variants and ("mmvaeplus", "elbo", "factorized") in variants
        assert study.verdicts == [("MMVAE+ (mnist_synthsvhn)", "elbo_naive MMVAE (mnist_synthsvhn)"),
                                  ("MMVAE+ (polymnist)", "elbo_naive MMVAE (polymnist)")]


def _fake_metrics(run_dir, cross, shared, private):
    import json

    run_dir.mkdir(parents=True)
    acc = {"a_shared": shared, "b_shared": shared, "a_private": private[0], "b_private": private[1]} \
        if private else {"a": shared, "b": shared}
    (run_dir / "metrics.json").write_text(json.dumps({
        "cross_coherence": {"a_to_b": {"accuracy": cross}, "b_to_a": {"accuracy": cross}},
        "latent_accuracy": acc}))
    return run_dir


def test_the_criterion_is_judged_from_the_metrics(tmp_path):
    from mmvae.experiments.verdict import verdict_lines

    runs = {_fake_metrics(tmp_path / "base", 0.50, 0.90, None): "MMVAE",
            _fake_metrics(tmp_path / "plus", 0.55, 0.92, (0.12, 0.25)): "MMVAE+"}
    line = verdict_lines(runs, "MMVAE+", "MMVAE")[0]
    assert "criterion met" in line and "25.0%" in line
    runs[_fake_metrics(tmp_path / "plus2", 0.55, 0.92, (0.12, 0.41))] = "MMVAE+ digit in w"
    assert "criterion not met" in verdict_lines(runs, "MMVAE+ digit in w", "MMVAE")[0]
    runs[_fake_metrics(tmp_path / "plus3", 0.45, 0.92, (0.1, 0.1))] = "MMVAE+ worse cross"
    assert "below" in verdict_lines(runs, "MMVAE+ worse cross", "MMVAE")[0]
    assert "not all runs" in verdict_lines(runs, "missing", "MMVAE")[0]


@pytest.mark.integration
def test_runner_writes_table_and_skips_finished_runs(tmp_path):
    study = Study("tiny", "two tiny MMVAEs", figures="")
    for seed in (1, 2):
        cfg = tiny_config(epochs=1, seed=seed)
        cfg.eval.final_eval, cfg.eval.figures = True, True
        cfg.eval.classifier_epochs, cfg.eval.iwae_K, cfg.eval.joint_samples, cfg.eval.probe_train = 1, 3, 100, 200
        cfg.eval.classifier_dir = str(tmp_path / "clf")
        study.runs.append(("tiny mmvae", cfg))
    logs = []
    run_study(study, tmp_path / "study", log=logs.append)
    table = (tmp_path / "study" / "comparison.md").read_text()
    assert "tiny mmvae (n=2)" in table and "±" in table
    readme = (tmp_path / "study" / "README.md").read_text()
    assert "seeds [1, 2]" in readme and "figures/generations_all.png" in readme
    assert (tmp_path / "study" / "figures" / "generations_all.png").is_file()
    logs.clear()
    run_study(study, tmp_path / "study", log=logs.append)
    assert sum("skipped" in line for line in logs) == 2


def test_architecture_ranking(tmp_path):
    import json

    from mmvae.experiments.runner import ranking

    dirs = {}
    for label, loss in [("mnist fc-512", 30.0), ("mnist conv-32", 10.0), ("svhn conv-16", 5.0)]:
        d = tmp_path / label.replace(" ", "_")
        d.mkdir()
        (d / "metrics.json").write_text(json.dumps({"test_loss": loss}))
        dirs[d] = label
    lines = ranking(dirs)
    assert "- mnist: conv-32 (10.0) < fc-512 (30.0)" in lines and "- svhn: conv-16 (5.0)" in lines


def test_probe_trends_give_each_variant_one_colour_in_both_panels(tmp_path, monkeypatch):
    """A variant without private latents is absent from the private panel; the others keep the
    colour of their shared-panel line (the legend is drawn once)."""
    import json

    from mmvae.experiments import figures

    runs = {}
    for name, private in (("plain", False), ("split", True)):
        d = tmp_path / name
        d.mkdir()
        rows = []
        for epoch in (1, 2):
            row = {"epoch": epoch, "test_probe_m0_shared" if private else "test_probe_m0": 0.5 + 0.1 * epoch}
            if private:
                row["test_probe_m0_private"] = 0.4 - 0.1 * epoch
            rows.append(json.dumps(row))
        (d / "metrics.jsonl").write_text("\n".join(rows))
        runs[d] = name
    seen = {}
    monkeypatch.setattr(figures, "save_figure", lambda fig, path, dpi: seen.setdefault("fig", fig) and path)
    figures.probe_trends(runs, tmp_path / "p.png")
    shared_ax, private_ax = seen["fig"].axes
    colour = {line.get_label(): line.get_color() for line in shared_ax.lines}
    curves = [line for line in private_ax.lines if not line.get_label().startswith("_")]  # not the 30% mark
    assert [line.get_label() for line in curves] == ["split"]
    assert curves[0].get_color() == colour["split"] != colour["plain"]


def test_loss_curves_name_each_term_once_and_move_long_legends_under_the_panel(tmp_path, monkeypatch):
    """At M = 5 the log-likelihood panel has 25 terms: one legend entry (and one colour, shared by
    the train and test lines) per term, the legend under the panel; two terms stay inside."""
    from mmvae.viz import plots

    names = [f"m{d}_from_m{r}" for d in range(5) for r in range(5)]
    rows = [{"epoch": e, "train_loss": 10.0 - e, "test_loss": 11.0 - e,
             **{f"{split}_lp_{n}": -100.0 + e + i for i, n in enumerate(names) for split in ("train", "test")},
             **{f"{split}_kl_m{m}": 5.0 + m for m in range(2) for split in ("train", "test")}} for e in (1, 2)]
    seen = {}
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: seen.setdefault("fig", fig) and path)
    plots.plot_curves(rows, tmp_path / "curves.png")
    _, lp_ax, kl_ax = seen["fig"].axes
    labels = [t.get_text() for t in lp_ax.get_legend().get_texts()]
    assert labels == [f"lp_{n}" for n in sorted(names)] + ["train", "test"]
    assert lp_ax.get_legend().get_bbox_to_anchor().y0 < lp_ax.get_window_extent().y0  # under the panel
    lines = lp_ax.get_lines()
    assert len(lines) == 50 and [line.get_linestyle() for line in lines[:2]] == ["-", "--"]
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert len({(line.get_color(), line.get_marker()) for line in lines}) == 25  # no two terms alike
    assert [t.get_text() for t in kl_ax.get_legend().get_texts()] == ["kl_m0", "kl_m1", "train", "test"]
    assert kl_ax.get_legend().get_bbox_to_anchor().y0 >= kl_ax.get_window_extent().y0


def test_kl_boxes_give_five_posteriors_five_colours_and_a_panel_each(monkeypatch):
    """Two posteriors of 20 dimensions share one panel; five of 32 get a panel each (side by side
    they would be 72 inches wide), each with its own colour."""
    import numpy as np

    from mmvae.viz import plots

    rng = np.random.default_rng(0)
    seen = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: seen.append(fig) or path)
    plots.plot_kl_boxes({f"q(z|{n})": rng.random((30, 20)) for n in ("a", "b")}, "two.png")
    plots.plot_kl_boxes({f"q(z|m{i})": rng.random((30, 32)) for i in range(5)}, "five.png")
    two, five = seen
    assert len(two.axes) == 1 and two.get_size_inches()[0] <= plots.MAX_WIDTH_INCHES
    assert len(five.axes) == 5 and five.get_size_inches()[0] <= plots.MAX_WIDTH_INCHES
    fills = [ax.patches[0].get_facecolor() for ax in five.axes]
    assert len(set(fills)) == 5
    assert [ax.get_legend().get_texts()[0].get_text() for ax in five.axes] == [f"q(z|m{i})" for i in range(5)]


def test_umap_figure_gives_each_of_five_modalities_its_own_colour(monkeypatch):
    import numpy as np

    from mmvae.viz import embedding

    rng = np.random.default_rng(1)
    monkeypatch.setattr(embedding, "embed_2d", lambda points, seed: rng.random((len(points), 2)))
    seen = []
    monkeypatch.setattr(embedding, "save_figure", lambda fig, path: seen.append(fig) or path)
    posteriors = [rng.random((20, 4)) for _ in range(5)]
    embedding.plot_embedding(rng.random((20, 4)), posteriors, [f"m{i}" for i in range(5)], None, "u.png")
    scatters = seen[0].axes[0].collections
    assert [s.get_label() for s in scatters] == ["prior"] + [f"q(z|m{i})" for i in range(5)]
    assert len({tuple(s.get_facecolor()[0]) for s in scatters}) == 6
