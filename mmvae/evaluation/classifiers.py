"""Digit classifiers used to judge generated images (coherence, synergy).

One small CNN per image source, trained on that source's own training split and cached as
safetensors + JSON (source, image shape, test accuracy, SHA-256). Loading checks all of these, so
a classifier for another modality or image size, or a damaged file, is refused with a clear error.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ..data.files import cache_dir
from ..errors import CheckpointError
from ..progress import progress_bar
from ..utils import atomic_write_text, sha256_file

CLASSIFIER_VERSION = 2  # 2: one-cycle learning rate


class DigitClassifier(nn.Module):
    """conv5(32)–pool–conv5(64)–pool–FC128–FC(classes) for C×H×W images in [0, 1]."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int = 10):
        super().__init__()
        c, h, w = shape
        self.shape = tuple(shape)
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * (h // 4) * (w // 4), 128),
                                  nn.ReLU(), nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    @torch.no_grad()
    def logits(self, x: torch.Tensor, batch: int = 2000) -> torch.Tensor:
        """Class logits of images [N, C, H, W] (float in [0, 1] or uint8), in chunks."""
        was = self.training
        self.eval()
        out = []
        for chunk in x.split(batch):
            chunk = chunk.float() / 255 if chunk.dtype == torch.uint8 else chunk
            out.append(self(chunk.to(next(self.parameters()).device)))
        self.train(was)
        return torch.cat(out) if out else torch.zeros(0, self.num_classes)

    def predict(self, x: torch.Tensor, batch: int = 2000) -> torch.Tensor:
        """Labels of images [N, C, H, W] (float in [0, 1] or uint8)."""
        return self.logits(x, batch).argmax(1)


@dataclass
class Classifier:
    source: str
    net: DigitClassifier
    test_accuracy: float
    path: Path

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.predict(x)

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.logits(x).softmax(-1)


def accuracy(net: DigitClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((net.predict(x).cpu() == y.cpu()).float().mean())


def fit_classifier(shape, x_train, y_train, x_test, y_test, epochs: int = 4, batch_size: int = 128,
                   seed: int = 0, desc: str = "classifier", device="cpu",
                   num_classes: int | None = None) -> tuple[DigitClassifier, float]:
    """Trains a DigitClassifier on uint8 images; returns it and its test accuracy.

    Adam with a one-cycle learning rate (peak 2e-3): over three seeds it reaches 99.2-99.3% on
    real MNIST and 98.9-99.2% on 12k synthetic street digits in 4 epochs, where a constant 1e-3
    gave 98.95-99.09% and 97.1-98.1%.
    """
    torch.manual_seed(seed)
    num_classes = num_classes or int(max(y_train.max(), y_test.max())) + 1
    net = DigitClassifier(shape, num_classes).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    n = len(y_train)
    steps = epochs * ((n + batch_size - 1) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=max(steps, 1))
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        net.train()
        with progress_bar(total=(n + batch_size - 1) // batch_size, desc=f"{desc} epoch {epoch + 1}/{epochs}") as bar:
            for idx in order.split(batch_size):
                x = x_train[idx].to(device).float() / 255
                loss = F.cross_entropy(net(x), y_train[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                schedule.step()
                bar.update(1)
    return net.eval(), accuracy(net, x_test, y_test)


def data_key(source, data_cfg) -> str:
    """What the classifier was trained on: real files are fixed; synthetic ones depend on size and seed."""
    from ..data import synthetic

    if source.real:
        parts = [source.name, "real"]
    else:
        parts = [source.name, synthetic.GENERATOR_VERSION, data_cfg.synthetic_train, data_cfg.synthetic_seed]
    return hashlib.sha256(json.dumps([CLASSIFIER_VERSION, *parts]).encode()).hexdigest()[:12]


def classifier_dir(folder: str | Path | None = None) -> Path:
    return Path(folder) if folder else cache_dir() / "classifiers"


def classifier_path(source, data_cfg, folder=None) -> Path:
    return classifier_dir(folder) / f"{source.name}-{data_key(source, data_cfg)}.safetensors"


def save_classifier(net: DigitClassifier, path: Path, source: str, test_accuracy: float, info: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(tmp))
    tmp.replace(path)
    meta = {"source": source, "shape": list(net.shape), "num_classes": net.num_classes, "test_accuracy": test_accuracy,
            "sha256": sha256_file(path), "version": CLASSIFIER_VERSION, **info}
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=1))
    return path


def load_classifier(path: str | Path, source: str | None = None, shape=None, device="cpu") -> Classifier:
    """A saved classifier, verified by SHA-256 and checked against the expected source and shape."""
    path = Path(path)
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise CheckpointError(f"Classifier {path} (and its .json record) not found. Train one with "
                              "`mmvae classifiers train`, or let `mmvae evaluate` train it.")
    try:
        meta = json.loads(meta_path.read_text())
        want_sha = meta["sha256"]
    except (json.JSONDecodeError, KeyError) as e:
        raise CheckpointError(f"{meta_path} is not a valid classifier record ({e}); delete both files to retrain.") from None
    if sha256_file(path) != want_sha:
        raise CheckpointError(f"Classifier {path} does not match the SHA-256 in {meta_path}: it is damaged or "
                              "was changed. Delete both files; `mmvae classifiers train` makes a new one.")
    if source is not None and meta.get("source") != source:
        raise CheckpointError(f"Classifier {path} was trained for '{meta.get('source')}', not '{source}'. "
                              "Pass the classifier of the right modality.")
    if shape is not None and tuple(meta.get("shape", ())) != tuple(shape):
        raise CheckpointError(f"Classifier {path} takes images of shape {tuple(meta.get('shape', ()))}, but "
                              f"'{source}' images are {tuple(shape)}.")
    net = DigitClassifier(tuple(meta["shape"]), int(meta.get("num_classes", 10)))
    try:
        net.load_state_dict(load_file(str(path)))
    except Exception as e:  # safetensors / shape errors
        raise CheckpointError(f"Classifier {path} could not be loaded ({e}); delete it to retrain.") from None
    return Classifier(meta["source"], net.to(device).eval(), float(meta["test_accuracy"]), path)


def train_source_classifier(source, data_cfg, epochs: int = 4, folder=None, device="cpu", seed: int = 0) -> Classifier:
    """Trains and saves the classifier of one source on its training split."""
    x_tr, y_tr = source.load("train", data_cfg)
    x_te, y_te = source.load("test", data_cfg)
    start = time.perf_counter()
    net, acc = fit_classifier(source.shape, x_tr, y_tr, x_te, y_te, epochs=epochs, seed=seed,
                              desc=f"classifier {source.name}", device=device)
    path = classifier_path(source, data_cfg, folder)
    save_classifier(net, path, source.name, acc, {
        "epochs": epochs, "n_train": len(y_tr), "n_test": len(y_te), "seed": seed,
        "train_seconds": round(time.perf_counter() - start, 1)})
    return Classifier(source.name, net.to(device).eval(), acc, path)


def get_classifier(source, data_cfg, folder=None, device="cpu", epochs: int = 4, log=print) -> Classifier:
    """The cached classifier of ``source`` for this data, trained (and announced) when missing."""
    path = classifier_path(source, data_cfg, folder)
    if path.is_file():
        return load_classifier(path, source.name, source.shape, device)
    log(f"No digit classifier for '{source.name}' in {path.parent}; training one on its training split "
        f"({epochs} epochs). It is cached for later evaluations.")
    clf = train_source_classifier(source, data_cfg, epochs=epochs, folder=folder, device=device)
    log(f"Classifier '{source.name}': test accuracy {100 * clf.test_accuracy:.2f}% ({path}).")
    return clf
