"""Shared fixtures: a private cache folder, quiet progress bars, and the real data beside the checkout."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Synthetic data and pairing indices are cached once per test session, not in $HOME."""
    os.environ.setdefault("MMVAE_CACHE", str(tmp_path_factory.mktemp("mmvae-cache")))
    os.environ["MMVAE_PROGRESS"] = "0"
    from mmvae import progress

    progress.set_enabled(False)
    yield


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST files beside the checkout (../shared/data/mnist), or a skip."""
    d = SHARED_DATA / "mnist"
    if not (d / "train-labels-idx1-ubyte").exists() and not (d / "train-labels-idx1-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {d}; put the four IDX files there to run this test")
    return d


def tiny_config(**train):
    """A RunConfig for seconds-long runs on a small synthetic dataset."""
    from mmvae.config import RunConfig

    cfg = RunConfig()
    cfg.data.dataset = "synthetic"
    cfg.data.synthetic_train, cfg.data.synthetic_test = 300, 100
    cfg.data.max_d, cfg.data.dm = 30, 2
    cfg.model.latent_dim = 4
    for spec in cfg.model.nets.values():
        spec.arch, spec.hidden_dims, spec.fbase = "fc", [32], 8
    cfg.train.epochs, cfg.train.batch_size, cfg.train.progress = 2, 50, False
    cfg.eval.figures = cfg.eval.analytics = cfg.eval.final_eval = False
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


def tiny_conv_config(**train):
    """``tiny_config`` with the networks a user gets by default: conv (narrow), channels_last and
    the fast routes."""
    cfg = tiny_config(**train)
    for spec in cfg.model.nets.values():
        spec.arch, spec.fbase = "conv", 4
    assert cfg.train.channels_last and cfg.train.fast_routes
    return cfg
