"""Slow (run with -m slow): the quickstart preset learns the cross-modal digit; classifiers reach their targets."""
import json

import pytest

from mmvae.cli.main import main


@pytest.mark.slow
def test_quickstart_learns_the_shared_digit(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--preset", "quickstart", "--run-dir", str(run), "--no-progress",
                 "--set", f"eval.classifier_dir={tmp_path / 'clf'}", "--set", "eval.iwae_K=20"]) == 0
    m = json.loads((run / "metrics.json").read_text())
    # measured 91.2% / 98.4% (street → MNIST coherence, street-digit probe); chance is 10%
    assert m["cross_coherence"]["svhn_to_mnist"]["accuracy"] > 0.6
    assert m["latent_accuracy"]["svhn"] > 0.8
    # issue target: >= 98% per synthetic modality (measured 99.0-99.2% / 99.5-99.8% over three seeds)
    assert m["classifiers"]["synthsvhn"]["test_accuracy"] >= 0.98
    assert m["classifiers"]["synthmnist"]["test_accuracy"] >= 0.98
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["test_loss"] < rows[0]["test_loss"]


@pytest.mark.slow
def test_real_mnist_classifier_reaches_99_percent(tmp_path, mnist_dir):
    from mmvae.data.mnist import load_mnist
    from mmvae.evaluation.classifiers import fit_classifier

    x_tr, y_tr = load_mnist(mnist_dir, "train")
    x_te, y_te = load_mnist(mnist_dir, "test")
    _, acc = fit_classifier((1, 28, 28), x_tr, y_tr, x_te, y_te, epochs=4, seed=1)
    assert acc >= 0.99  # measured 99.24-99.30% over seeds 0-2 (a constant learning rate gave 98.95% at seed 1)
