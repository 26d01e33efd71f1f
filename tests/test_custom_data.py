"""Users' own paired data from arrays: registration, loading with and without labels, content
hashes, every refusal of bad input, an unlabelled run end to end and the README's example."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mmvae.config import DataConfig, RunConfig, validate
from mmvae.data import DATASETS, load_paired, load_unimodal, register_arrays
from mmvae.data.datasets import dataset_sources
from mmvae.errors import ConfigError, DataError
from mmvae.evaluation.classifiers import data_key
from mmvae.nets import NetSpec

README = Path(__file__).resolve().parents[1] / "README.md"


def _arrays(n: int, seed: int = 0, classes: int = 7):
    """Modality a: uint8 1×10×12; modality b: float N×H×W (one channel) of 30×28; labels."""
    g = np.random.default_rng(seed)
    return ({"a": g.integers(0, 256, (n, 1, 10, 12), dtype=np.uint8),
             "b": g.uniform(0, 1, (n, 30, 28)).astype(np.float32)}, g.integers(0, classes, n))


def _register(name: str, labelled: bool = True, **over):
    (train, y_tr), (test, y_te) = _arrays(20, 0), _arrays(8, 1)
    kw = dict(train=train, test=test, train_labels=y_tr if labelled else None, test_labels=y_te if labelled else None)
    kw.update(over)
    return register_arrays(name, **kw), kw


def test_arrays_become_a_dataset_of_aligned_tuples():
    _, kw = _register("ut-arrays", test_labels=torch.as_tensor(_arrays(8, 1)[1]))  # torch is accepted too
    cfg = RunConfig()
    cfg.data.dataset = "ut-arrays"
    validate(cfg)
    data = load_paired(cfg.data, "train")
    assert data.names == ["a", "b"] and data.sources == ["ut-arrays.a", "ut-arrays.b"]
    assert data.shapes == [(1, 10, 12), (1, 30, 28)] and len(data) == 20
    assert data.labelled and data.num_classes == 7 and torch.equal(data.labels, torch.as_tensor(kw["train_labels"]))
    xs, labels = data.gather(torch.arange(20))
    assert torch.equal(xs[0], torch.as_tensor(kw["train"]["a"]).float() / 255)
    b = torch.as_tensor(np.round(kw["train"]["b"] * 255)).to(torch.uint8)  # floats are stored as uint8
    assert torch.equal(data.images[1][:, 0], b) and data.images[1].dtype == torch.uint8
    assert [s.slot for s in dataset_sources(cfg.data)] == ["a", "b"]
    assert len(load_paired(cfg.data, "test")) == 8


def test_data_without_labels_loads_batches_and_subsets():
    _register("ut-nolabels", labelled=False)
    cfg = DataConfig(dataset="ut-nolabels")
    data = load_paired(cfg, "test")
    assert not data.labelled and data.num_classes == 0 and bool((data.labels == -1).all())
    assert len(data.stratified(5, seed=0)) == 5 and not data.stratified(5, seed=0).labelled
    assert sum(len(x[0]) for _, x, _ in data.batches(3, shuffle=False)) == 8
    assert not load_unimodal(cfg, "b", "train").labelled


def test_reregistering_your_own_name_replaces_the_data():
    _register("ut-again")
    _register("ut-again", labelled=False)
    assert not load_paired(DataConfig(dataset="ut-again"), "train").labelled


def test_content_hash_follows_the_images_and_labels():
    """A judge is cached by source name and content: changed images or labels get a new one."""
    def keys(**over):
        info, _ = _register("ut-hash", **over)
        return [data_key(s, None) for s in info.sources(None)]

    first = keys()
    assert keys() == first
    train, labels = _arrays(20, 0)
    train["a"][3, 0, 2, 2] ^= 1
    changed = keys(train=train)
    assert changed[0] != first[0] and changed[1] == first[1]  # only modality a changed
    assert keys(train_labels=(labels + 1) % 7)[0] != first[0]


def _bad(kind: str) -> dict:
    (train, y_tr), (test, y_te) = _arrays(5, 0), _arrays(4, 1)
    kw = dict(train=train, test=test, train_labels=y_tr, test_labels=y_te)
    if kind == "lengths":
        train["b"] = train["b"][:4]
    elif kind == "label_length":
        kw["test_labels"] = y_te[:3]
    elif kind == "one_split_labels":
        kw["test_labels"] = None
    elif kind == "float_range":
        train["b"][0, 0, 0] = 1.5
    elif kind == "nan":
        test["b"][1, 2, 2] = np.nan
    elif kind == "shapes_in_list":
        train["a"] = [np.zeros((1, 10, 12), np.uint8)] * 4 + [np.zeros((1, 10, 11), np.uint8)]
    elif kind == "shapes_across_splits":
        test["a"] = test["a"][:, :, :, :9]
    elif kind == "channels_last":
        train["a"] = np.zeros((5, 10, 12, 3), np.uint8)
    elif kind == "dtype":
        train["a"] = train["a"].astype(np.int32)
    elif kind == "negative_label":
        kw["train_labels"] = np.array([0, 1, -1, 2, 3])
    elif kind == "modalities":
        test["c"] = test.pop("b")
    return kw


BAD = [
    ("lengths", DataError, r"different numbers of images: a 5, b 4"),
    ("label_length", DataError, r"test_labels has 3 labels for 4 tuples"),
    ("one_split_labels", DataError, r"one split only"),
    ("float_range", DataError, r"float values from .* to 1\.5.*\[0, 1\]"),
    ("nan", DataError, r"\[0, 1\]"),
    ("shapes_in_list", DataError, r"modality 'a' \(train\) have different shapes: image 0 is \(1, 10, 12\) and image 4"),
    ("shapes_across_splits", DataError, r"'a' has images of 1×10×12 in train and 1×10×9 in test"),
    ("channels_last", DataError, r"looks like N×H×W×C.*transpose\(0, 3, 1, 2\)"),
    ("dtype", DataError, r"dtype torch.int32; give uint8"),
    ("negative_label", DataError, r"integer classes 0 … C−1"),
    ("modalities", DataError, r"same ones"),
]


@pytest.mark.parametrize("kind,error,match", BAD, ids=[b[0] for b in BAD])
def test_bad_arrays_are_refused_and_nothing_is_registered(kind, error, match):
    name = f"ut-bad-{kind.replace('_', '-')}"
    with pytest.raises(error, match=match):
        register_arrays(name, **_bad(kind))
    assert name not in DATASETS


@pytest.mark.parametrize("name,match", [("synthetic", "built-in dataset"), ("auto", "not usable"),
                                        ("has space", "not usable")])
def test_taken_or_unusable_names_are_refused(name, match):
    (train, _), (test, _) = _arrays(3), _arrays(3)
    with pytest.raises(ConfigError, match=match):
        register_arrays(name, train=train, test=test)
    assert DATASETS.get("synthetic").description.startswith("synthetic")


def test_unusable_modality_name_and_unknown_dataset_explain_the_fix():
    (train, _), (test, _) = _arrays(3), _arrays(3)
    with pytest.raises(ConfigError, match="Modality name 'my mod'"):
        register_arrays("ut-modname", train={"my mod": train["a"]}, test={"my mod": test["a"]})
    cfg = RunConfig()
    cfg.data.dataset = "ut-never-registered"
    with pytest.raises(ConfigError, match="mmvae data register NAME FOLDER"):
        validate(cfg)


# ---------------------------------------------------------------- end to end


def _quick_umap(monkeypatch):
    """The UMAP figure's first use compiles for ~15 s; a PCA stand-in keeps these runs short."""
    import mmvae.viz.embedding as embedding

    monkeypatch.setattr(embedding, "embed_2d", lambda points, seed=0, **_: points[:, :2])


@pytest.mark.integration
def test_unlabelled_run_trains_measures_likelihoods_and_says_coherence_needs_labels(tmp_path, monkeypatch):
    _quick_umap(monkeypatch)
    g = np.random.default_rng(0)
    register_arrays("ut-unlabelled-run", train={"small": g.uniform(0, 1, (64, 12, 12)),
                                                "photo": g.integers(0, 256, (64, 3, 28, 28), dtype=np.uint8)},
                    test={"small": g.uniform(0, 1, (24, 12, 12)),
                          "photo": g.integers(0, 256, (24, 3, 28, 28), dtype=np.uint8)})
    cfg = RunConfig()
    cfg.data.dataset, cfg.run_dir = "ut-unlabelled-run", str(tmp_path / "run")
    cfg.model.latent_dim, cfg.model.nets["photo"] = 4, NetSpec("conv", fbase=4)
    cfg.train.epochs, cfg.train.batch_size, cfg.train.progress = 1, 32, False
    cfg.eval.iwae_K, cfg.eval.iwae_pairs, cfg.eval.test_K, cfg.eval.n_figure = 4, 10, 3, 8
    from mmvae import pipeline

    run = pipeline.train(cfg)
    import json

    metrics = json.loads((run / "metrics.json").read_text())
    assert "need labels" in metrics["coherence_skipped"] and "register" in metrics["coherence_skipped"]
    assert not {"cross_coherence", "joint_coherence", "latent_accuracy", "classifiers"} & set(metrics)
    assert set(metrics["likelihood"]) >= {"joint", "marginal_small", "marginal_photo"}
    assert "Coherence and the latent probe need labels" in (run / "report.md").read_text()
    figures = {p.name for p in (run / "figures").iterdir()}
    assert {"gen_small_001.png", "recon_photo_to_small_001.png", "umap_posterior_prior.png"} <= figures


def readme_example() -> str:
    """The first python block under the README's 'Your own data' heading."""
    text = README.read_text()
    section = text[text.index("## Your own data"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.integration
def test_readme_example_runs_and_reports_coherence(tmp_path, monkeypatch, capsys):
    _quick_umap(monkeypatch)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(readme_example(), "README.md: Your own data", "exec"), namespace)
    report = capsys.readouterr().out
    assert "Cross coherence" in report and "WEAK" not in report
    assert Path(namespace["run_dir"], "report.html").is_file()
