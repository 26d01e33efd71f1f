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
