"""The mmvae command: help, seed flag names, one-paragraph errors, data commands, a real run."""
import json
import os
import subprocess
import sys

import pytest
import yaml

from mmvae.cli.main import build_parser, main
from mmvae.cli.train_cmd import config_from_args

SEED_FLAGS = ["--model", "--obj", "--batch-size", "--epochs", "--latent-dim", "--K", "--decoder_scale",
              "--fBase", "--max_d", "--dm", "--distr", "--no_conv", "--hidden_dims", "--learn-prior",
              "--llik_scaling", "--seed", "--experiment", "--looser"]
TINY = ["--dataset", "synthetic", "--synthetic-train", "300", "--synthetic-test", "100", "--max_d", "30", "--dm", "2",
        "--latent-dim", "4", "--no_conv", "--hidden_dims", "32", "--batch-size", "50", "--no-progress"]


def _cfg(argv):
    args = build_parser().parse_args(["train", *argv])
    return config_from_args(args)[0]


def test_help_lists_commands_and_every_seed_flag(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "train" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for flag in SEED_FLAGS + ["--dataset", "--data-dir", "--run-dir", "--resume", "--config"]:
        assert flag in out, flag


def test_seed_command_line_maps_onto_the_config():
    cfg = _cfg("--experiment comparasion_final --model mnist_svhn --obj elbo_naive --batch-size 128 "
               "--epochs 10 --fBase 16 --max_d 10000 --dm 30 --learn-prior --distr Laplace --K 7".split())
    assert (cfg.experiment, cfg.model.model, cfg.train.obj, cfg.train.batch_size) == ("comparasion_final", "mnist_svhn", "elbo_naive", 128)
    assert cfg.model.nets["mnist"].fbase == cfg.model.nets["svhn"].fbase == 16
    assert cfg.model.learn_prior and cfg.model.distr == "Laplace" and cfg.train.K == 7
    fc = _cfg("--no_conv --hidden_dims 1024 512 128".split())
    assert all(s.arch == "fc" and s.hidden_dims == [1024, 512, 128] for s in fc.model.nets.values())
    mixed = _cfg("--mnist-arch fc --mnist-hidden 512 --svhn-fbase 64".split())
    assert mixed.model.nets["mnist"].arch == "fc" and mixed.model.nets["svhn"].arch == "conv"
    assert mixed.model.nets["mnist"].hidden_dims == [512] and mixed.model.nets["svhn"].fbase == 64


def test_config_file_then_flags(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"train": {"epochs": 3, "lr": 5e-4}, "model": {"latent_dim": 8}}))
    cfg = _cfg(["--config", str(path), "--epochs", "5", "--set", "train.seed=9"])
    assert (cfg.train.epochs, cfg.train.lr, cfg.model.latent_dim, cfg.train.seed) == (5, 5e-4, 8, 9)


@pytest.mark.parametrize("argv,needle", [
    (["--model", "mnist_svhm"], "Did you mean 'mnist_svhn'"),
    (["--obj", "elbo_nave"], "elbo_naive"),
    (["--decoder_scale", "-1"], "'model.decoder_scale' must be > 0"),
    (["--latent-dim", "0"], "'model.latent_dim' must be > 0"),
    (["--batch-size", "100000"], "larger than the training set"),
    (["--set", "train.nope=1"], "train.nope"),
])
def test_bad_input_is_one_paragraph_without_traceback(argv, needle, capsys, tmp_path):
    code = main(["train", *TINY, "--run-dir", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "Traceback" not in err
    assert needle in " ".join(err.split())


def test_unwritable_run_dir(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["train", *TINY, "--run-dir", str(blocker / "run")])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "Cannot write to the run folder" in err and "--run-dir" in err


def test_debug_shows_the_traceback(tmp_path):
    from mmvae.errors import ConfigError

    with pytest.raises(ConfigError):
        main(["--debug", "train", *TINY, "--run-dir", str(tmp_path / "r"), "--latent-dim", "0"])


def test_data_verify_exit_codes(tmp_path, capsys, mnist_dir):
    assert main(["data", "verify", "--dataset", "mnist", "--data-dir", str(mnist_dir)]) == 0
    assert main(["data", "verify", "--dataset", "svhn", "--data-dir", str(tmp_path)]) == 1
    assert "train_32x32.mat is missing" in capsys.readouterr().out


def test_data_sheet_writes_png(tmp_path):
    out = tmp_path / "sheet.png"
    assert main(["data", "sheet", "--dataset", "synthetic", "--per-digit", "2", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.integration
@pytest.mark.parametrize("model", ["mnist_svhn", "svhn"])
def test_train_writes_the_run_folder(tmp_path, model):
    """A real run through the installed entry point (python -m mmvae), as a user runs it."""
    run = tmp_path / "run"
    env = {**os.environ, "MMVAE_PROGRESS": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "mmvae", "train", *TINY, "--model", model, "--epochs", "1",
         "--no-final-eval", "--run-dir", str(run)],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"run folder: {run}" in proc.stdout
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["model"]["model"] == model and cfg["model"]["latent_dim"] == 4
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
    assert row["epoch"] == 1 and row["train_loss"] > 0 and "test_loss" in row
    assert (run / "metrics.csv").read_text().startswith("epoch,")
    figures = {p.name for p in (run / "figures").glob("*.png")}
    assert f"gen_{model.split('_')[0]}_001.png" in figures
    assert "umap_posterior_prior.png" in figures and "loss_curves.png" in figures
    assert list((run / "checkpoints").glob("*.safetensors")) and (run / "checkpoints" / "last.json").exists()


@pytest.mark.integration
def test_generate_from_a_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--no-figures", "--no-analytics", "--no-final-eval",
                 "--run-dir", str(run)]) == 0
    assert main(["generate", str(run), "--n", "3"]) == 0
    assert main(["generate", str(run), "--from", "mnist", "--to", "svhn", "--n", "4", "--samples", "2"]) == 0
    out = capsys.readouterr().out
    assert "joint_mnist.png" in out and "joint_svhn.png" in out and "mnist_to_svhn.png" in out
    import matplotlib.image

    grid = matplotlib.image.imread(run / "generated" / "mnist_to_svhn.png")
    assert grid.shape[0] == 2 * (3 * (32 + 2) + 2)  # input row + 2 sample rows, scaled ×2
    assert main(["generate", str(run), "--from", "audio"]) == 2
    assert "not one of them" in capsys.readouterr().err


EVAL_FAST = ["--set", "eval.classifier_epochs=1", "--set", "eval.iwae_K=4", "--set", "eval.iwae_pairs=20",
             "--set", "eval.joint_samples=200", "--set", "eval.probe_train=300"]


@pytest.mark.integration
def test_train_with_final_evaluation_writes_the_report(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    clf_dir = tmp_path / "clf"
    # an installation without shipped judges: they are trained here and cached in clf_dir
    monkeypatch.setattr("mmvae.evaluation.judges.shipped_dir", lambda: tmp_path / "no-judges")
    assert main(["train", *TINY, "--epochs", "1", "--no-figures", "--no-analytics", "--run-dir", str(run),
                 *EVAL_FAST, "--set", f"eval.classifier_dir={clf_dir}"]) == 0
    out = capsys.readouterr().out
    assert "No digit classifier for 'synthmnist'" in out and "Cross coherence mnist → svhn" in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["cross_coherence"]) == {"mnist_to_svhn", "svhn_to_mnist"}
    assert 0 <= metrics["joint_coherence"]["accuracy"] <= 1 and metrics["epochs"] == 1
    assert {"joint", "marginal_mnist", "marginal_svhn"} <= set(metrics["likelihood"])
    assert metrics["classifiers"]["synthsvhn"]["test_accuracy"] > 0
    assert "Latent accuracy svhn" in (run / "report.md").read_text()
    # the per-epoch likelihoods' class-stratified pairs are recorded with their class counts
    assert "class-stratified" in metrics["protocol"]["per_epoch_likelihood"]
    # A corrupt classifier stops a re-evaluation before anything is replaced.
    before = (run / "metrics.json").read_text()
    weights = next(clf_dir.glob("synthsvhn-*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-7])
    assert main(["evaluate", str(run)]) == 2
    assert "does not match the SHA-256" in " ".join(capsys.readouterr().err.split())
    assert (run / "metrics.json").read_text() == before


@pytest.mark.integration
def test_evaluate_needs_a_checkpoint(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("train: {epochs: 1}\n")
    assert main(["evaluate", str(tmp_path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "has no checkpoint" in err and not (tmp_path / "report.html").exists()


def test_presets_load_and_validate():
    from mmvae.cli.train_cmd import load_preset, preset_names
    from mmvae.config import validate

    assert {"quickstart", "seed", "paper"} <= set(preset_names())
    paper = validate(load_preset("paper"))
    assert (paper.model.distr, paper.train.obj, paper.train.looser, paper.train.K) == ("Laplace", "dreg", True, 30)
    assert paper.model.nets["mnist"].arch == "fc" and paper.model.nets["svhn"].fbase == 32
    seed = validate(load_preset("seed"))
    assert (seed.train.obj, seed.model.distr, seed.data.dm) == ("elbo_naive", "Normal", 30)


@pytest.mark.integration
def test_probes_every_epoch_give_their_trend(tmp_path):
    """--probe-every fits the latent probes in each test pass (which otherwise runs in inference mode)."""
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--no-figures", "--no-analytics", "--no-final-eval",
                 "--probe-every", "1", "--run-dir", str(run)]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(0 <= r["test_probe_mnist"] <= 1 and 0 <= r["test_probe_svhn"] <= 1 for r in rows)
    assert "test_logp_joint_K10" in rows[-1]
