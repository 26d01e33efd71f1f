"""Digit classifiers used to judge generated images (coherence, synergy).

One small CNN per image source, trained on that source's own training split and cached as
safetensors + JSON (source, image shape, layers, test accuracy, SHA-256). The CNN's depth
follows the image size (:func:`judge_layers`), so tiny and large images get good judges too.
Loading checks all of these, so a classifier for another modality or image size, or a damaged
file, is refused with a clear error.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ..data.files import cache_dir
from ..errors import CheckpointError, DataError
from ..progress import progress_bar
from ..utils import atomic_write_text, sha256_file

CLASSIFIER_VERSION = 3  # 2: one-cycle learning rate; 3: hidden layer of 32, keyed by the data's distribution
JUDGE_HIDDEN = 32  # width of the judge's hidden layer (the judges of version 2 had 128)


# the layers of the judges written before their architecture was recorded (28×28 and 32×32)
LEGACY_LAYERS = [[32, True], [64, True]]


def judge_layers(shape: tuple[int, int, int]) -> list[list]:
    """[channels, pooled] per conv block of the judge for C×H×W images.

    The number of 2×2 poolings grows with log2 of the shorter side (28 and 32: two, 64: three,
    8: one), so small images keep at least 4×4 features and large ones are reduced enough;
    at least two 5×5 convolutions. The last two blocks are 32 and 64 wide, earlier ones (at
    higher resolution, where each channel costs most) 16. For 28×28 and 32×32 this is the
    original judge (:data:`LEGACY_LAYERS`).
    """
    side = min(shape[1:])
    pools = 0 if side < 8 else max(1, round(math.log2(side)) - 3)
    n = max(2, pools)
    return [[16 if i < n - 2 else 32 * 2 ** (i - n + 2), i < pools] for i in range(n)]


class DigitClassifier(nn.Module):
    """conv5–(pool)–conv5–(pool)–…–FC(hidden)–FC(classes) for C×H×W images in [0, 1]; the blocks
    (``layers``: [channels, pooled] each) default to :func:`judge_layers` of the shape."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int = 10, layers: list | None = None,
                 hidden: int = JUDGE_HIDDEN):
        super().__init__()
        c, h, w = shape
        self.shape = tuple(shape)
        self.num_classes, self.hidden = num_classes, hidden
        self.layers = [[int(ch), bool(pool)] for ch, pool in (layers or judge_layers(self.shape))]
        blocks: list[nn.Module] = []
        for width, pooled in self.layers:
            blocks += [nn.Conv2d(c, width, 5, padding=2), nn.ReLU()]
            if pooled:
                blocks.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = width
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(c * h * w, hidden),
                                  nn.ReLU(), nn.Linear(hidden, num_classes))

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
    """A judge: its source, network, test accuracy, file, and whether it ships with mmvae."""

    source: str
    net: DigitClassifier
    test_accuracy: float
    path: Path
    shipped: bool = False
    version: int = CLASSIFIER_VERSION

    def describe(self) -> dict:
        return {"test_accuracy": self.test_accuracy, "path": str(self.path), "version": self.version,
                "shipped": self.shipped}

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.predict(x)

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.logits(x).softmax(-1)


def accuracy(net: DigitClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((net.predict(x).cpu() == y.cpu()).float().mean())


def seconds_per_step(net: DigitClassifier, x: torch.Tensor, y: torch.Tensor, batch_size: int, device,
                     repeats: int = 3) -> float:
    """Measured time of one training step (batch, forward, backward, Adam step) on a copy of
    ``net``, with the random number generators restored, so training itself is untouched."""
    probe = copy.deepcopy(net).train()
    opt = torch.optim.Adam(probe.parameters(), lr=1e-3)
    idx = torch.arange(min(batch_size, len(y)))
    cuda = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []

    def step():
        loss = F.cross_entropy(probe(x[idx].to(device).float() / 255), y[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    with torch.random.fork_rng(devices=cuda):
        step()  # warm-up: first-call allocations
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        return (time.perf_counter() - start) / repeats


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "under a second"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def judge_batch_size(n: int) -> int:
    """128 from 3,200 training images up; smaller sets take smaller batches (about 25 steps an
    epoch, at least 32 images each), so a few hundred images still get enough updates."""
    return min(128, max(32, n // 25))


def fit_classifier(shape, x_train, y_train, x_test, y_test, epochs: int = 4, batch_size: int | None = None,
                   seed: int = 0, desc: str = "classifier", device="cpu",
                   num_classes: int | None = None, log=None) -> tuple[DigitClassifier, float]:
    """Trains a DigitClassifier on uint8 images; returns it and its test accuracy. With ``log``,
    first says how long it will take (a few timed steps times the steps to do).

    Adam with a one-cycle learning rate (peak 2e-3): over three seeds it reaches 99.2-99.3% on
    real MNIST and 98.9-99.2% on 12k synthetic street digits in 4 epochs, where a constant 1e-3
    gave 98.95-99.09% and 97.1-98.1%. Batches: :func:`judge_batch_size` unless given.
    """
    batch_size = batch_size or judge_batch_size(len(y_train))
    torch.manual_seed(seed)
    num_classes = num_classes or int(max(y_train.max(), y_test.max())) + 1
    net = DigitClassifier(shape, num_classes).to(device)
    if log is not None:
        batches = (len(y_train) + batch_size - 1) // batch_size
        # the test pass is a forward (about a third of a step) per image
        step = seconds_per_step(net, x_train, y_train, batch_size, device)
        total = step * (epochs * batches + len(y_test) / batch_size / 3)
        log(f"Training {desc}: {len(y_train)} images × {epochs} epochs ({epochs * batches} steps of "
            f"{batch_size}), about {_duration(total)} here.")
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


def distribution(source, data_cfg) -> list:
    """What a judge of ``source`` is valid for: real files are fixed; generated or users' images
    are what the source's ``content`` says (a generator version, a hash of the images, …)."""
    return [source.name, "real"] if source.content is None else [source.name, *source.content(data_cfg)]


def data_key(source, data_cfg) -> str:
    return hashlib.sha256(json.dumps([CLASSIFIER_VERSION, *distribution(source, data_cfg)]).encode()).hexdigest()[:12]


def classifier_dir(folder: str | Path | None = None) -> Path:
    return Path(folder) if folder else cache_dir() / "classifiers"


def classifier_path(source, data_cfg, folder=None) -> Path:
    return classifier_dir(folder) / f"{source.name}-{data_key(source, data_cfg)}.safetensors"


def save_classifier(net: DigitClassifier, path: Path, source: str, test_accuracy: float, info: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(tmp))
    tmp.replace(path)
    meta = {"source": source, "shape": list(net.shape), "num_classes": net.num_classes, "layers": net.layers,
            "hidden": net.hidden, "test_accuracy": test_accuracy,
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
    # judges saved before the layers were recorded are the original two-block CNN
    net = DigitClassifier(tuple(meta["shape"]), int(meta.get("num_classes", 10)), meta.get("layers", LEGACY_LAYERS),
                          int(meta.get("hidden", 128)))
    try:
        net.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    except Exception as e:  # safetensors / shape errors
        raise CheckpointError(f"Classifier {path} could not be loaded ({e}); delete it to retrain.") from None
    return Classifier(meta["source"], net.to(device).eval(), float(meta["test_accuracy"]), path,
                      shipped=bool(meta.get("shipped", False)), version=int(meta.get("version", 1)))


def train_source_classifier(source, data_cfg, epochs: int = 4, folder=None, device="cpu", seed: int = 0,
                            log=None) -> Classifier:
    """Trains and saves the classifier of one source on its training split (``log``: where to
    say how long it will take)."""
    x_tr, y_tr = source.load("train", data_cfg)
    x_te, y_te = source.load("test", data_cfg)
    if min(len(y_tr), len(y_te)) == 0 or min(int(y_tr.min()), int(y_te.min())) < 0:
        raise DataError(f"The judge of '{source.name}' needs labelled train and test images, and this source "
                        "has none (or only some) labels. Give labels for both splits to get coherence metrics.")
    start = time.perf_counter()
    net, acc = fit_classifier(source.shape, x_tr, y_tr, x_te, y_te, epochs=epochs, seed=seed,
                              desc=f"judge {source.name}", device=device, log=log)
    path = classifier_path(source, data_cfg, folder)
    save_classifier(net, path, source.name, acc, {
        "epochs": epochs, "n_train": len(y_tr), "n_test": len(y_te), "seed": seed,
        "train_seconds": round(time.perf_counter() - start, 1)})
    return Classifier(source.name, net.to(device).eval(), acc, path)
