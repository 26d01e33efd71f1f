"""Users' own paired data as a named dataset: from arrays in memory or from a folder of images.

Item i of every modality is one tuple (the same object seen in each modality). Images may
have any C×H×W per modality, uint8 or float in [0, 1]; labels (integer classes 0 … C−1) are
optional: without them training, likelihoods, reconstructions, generations and figures work,
and the report says that coherence needs labels.

    from mmvae.data import register_arrays, register_folder
    register_arrays("mine", train={"photo": xa, "sketch": xb}, test={...},
                    train_labels=ya, test_labels=yb)      # labels: optional
    register_folder("scans", "path/to/folder")            # layout: mmvae.data.folders

Then ``cfg.data.dataset = "mine"`` (or ``--dataset mine``) uses it in this process;
``mmvae data register NAME FOLDER`` records a folder for later processes. Each modality is a
:class:`Source` whose ``content`` is a SHA-256 of its images and labels, so the judge
(coherence classifier) trained on it is retrained when the data changes.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import numpy as np
import torch

from ..errors import ConfigError, DataError
from .datasets import DATASET_FINDERS, DATASETS, DatasetInfo, aligned_tuples, register_dataset
from .folders import read_folder, record_folder, recorded_folders
from .sources import Source

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
MODALITY = re.compile(r"[A-Za-z][A-Za-z0-9-]*\Z")
SPLITS = ("train", "test")
USER_DATASETS: set[str] = set()  # names registered from users' data in this process


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME.match(name) or name == "auto":
        raise ConfigError(f"Dataset name {name!r} is not usable: use letters, digits, '_', '-' or '.', starting "
                          "with a letter or digit (and not 'auto').")
    if name in DATASETS and name not in USER_DATASETS:
        raise ConfigError(f"'{name}' is a built-in dataset ({DATASETS.get(name).description}); choose another "
                          "name for yours. Nothing was registered.")


def _as_tensor(x, where: str) -> torch.Tensor:
    """``x`` (array, tensor, or a list of same-shape images) as a tensor."""
    if isinstance(x, (list, tuple)):
        items = [np.asarray(i.cpu() if isinstance(i, torch.Tensor) else i) for i in x]
        odd = next((i for i, a in enumerate(items) if a.shape != items[0].shape), None)
        if odd is not None:
            raise DataError(f"The images of {where} have different shapes: image 0 is {items[0].shape} and image "
                            f"{odd} is {items[odd].shape}. Resize them to one size per modality.")
        x = np.stack(items) if items else np.zeros((0, 1, 1, 1), np.uint8)
    return x.detach().cpu() if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))


def as_images(x, where: str) -> torch.Tensor:
    """Images [N, C, H, W] as uint8: N×H×W is one channel; floats must lie in [0, 1]."""
    x = _as_tensor(x, where)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or len(x) == 0:
        raise DataError(f"{where} must be images N×C×H×W (or N×H×W), at least one; got shape {tuple(x.shape)}.")
    if x.shape[1] > 4 and x.shape[3] <= 4:
        raise DataError(f"{where} has shape {tuple(x.shape)}, which looks like N×H×W×C; images are N×C×H×W. "
                        "Move the channels first (x.transpose(0, 3, 1, 2) or x.permute(0, 3, 1, 2)).")
    if x.dtype == torch.uint8:
        return x.contiguous()
    if not x.is_floating_point():
        raise DataError(f"{where} has dtype {x.dtype}; give uint8 images (0-255) or floats in [0, 1].")
    lo, hi = float(x.min()), float(x.max())
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi > 1:
        raise DataError(f"{where} holds float values from {lo:g} to {hi:g}; float images must lie in [0, 1]. "
                        "Divide 0-255 images by 255 (or pass them as uint8) and replace NaNs.")
    return (x.float() * 255).round_().to(torch.uint8).contiguous()


def as_labels(y, n: int, where: str) -> torch.Tensor:
    """Labels [n] as int64 classes 0 … C−1."""
    y = _as_tensor(y, where).reshape(-1)
    if len(y) != n:
        raise DataError(f"{where} has {len(y)} labels for {n} tuples; give one label per tuple (item i of every "
                        "modality).")
    if y.is_floating_point() and bool((y == y.round()).all()):
        y = y.long()
    if y.dtype not in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8) or (n and int(y.min()) < 0):
        raise DataError(f"{where} must be integer classes 0 … C−1 (dtype {y.dtype}, smallest "
                        f"{y.min().item() if n else '-'}). Map your classes to 0, 1, 2, …")
    return y.long()


def _split_images(images: Mapping, split: str, name: str) -> dict[str, torch.Tensor]:
    if not isinstance(images, Mapping) or not images:
        raise DataError(f"{split}= must map each modality name to its images, e.g. {{'photo': x, 'sketch': y}}.")
    bad = [m for m in images if not isinstance(m, str) or not MODALITY.match(m)]
    if bad:
        raise ConfigError(f"Modality name {bad[0]!r} of '{name}' is not usable: use letters, digits and '-', "
                          "starting with a letter (names become file names and config keys).")
    out = {m: as_images(x, f"modality '{m}' ({split})") for m, x in images.items()}
    lengths = {m: len(x) for m, x in out.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(f"The {split} modalities hold different numbers of images: "
                        f"{', '.join(f'{m} {k}' for m, k in lengths.items())}. Item i of every modality is one "
                        "tuple, so each needs the same number.")
    return out


def _digest(*tensors: torch.Tensor | None) -> str:
    h = hashlib.sha256()
    for t in tensors:
        if t is not None:
            h.update(str(tuple(t.shape)).encode())
            h.update(memoryview(np.ascontiguousarray(t.numpy())).cast("B"))
    return h.hexdigest()


def _source(name: str, modality: str, images: dict, labels: dict) -> Source:
    """Modality ``modality`` of a user dataset as an image source."""
    def load(split, cfg=None):
        y = labels[split]
        return images[split], y if y is not None else torch.full((len(images[split]),), -1, dtype=torch.int64)

    digest = _digest(images["train"], images["test"], labels["train"], labels["test"])
    return Source(f"{name}.{modality}", modality, tuple(images["train"].shape[1:]), False, load,
                  f"modality '{modality}' of your dataset '{name}'", lambda cfg=None: ["user", digest])


def register_arrays(name: str, train: Mapping, test: Mapping, train_labels=None, test_labels=None,
                    description: str = "") -> DatasetInfo:
    """Registers paired arrays as the dataset ``name`` (for ``--dataset``/``data.dataset``).

    train/test: modality name → images (N×C×H×W or N×H×W; numpy or torch; uint8, or floats in
    [0, 1], stored as uint8); item i of every modality is one tuple. Labels: one integer class
    per tuple for both splits, or for neither. Registering a name again replaces your earlier
    data; a built-in name is refused. Any problem raises before anything is registered.
    """
    _check_name(name)
    images = {"train": _split_images(train, "train", name), "test": _split_images(test, "test", name)}
    mods = list(images["train"])
    if set(images["test"]) != set(mods):
        raise DataError(f"train has the modalities {mods} and test {list(images['test'])}; both splits need the "
                        "same ones.")
    for m in mods:
        a, b = images["train"][m].shape[1:], images["test"][m].shape[1:]
        if a != b:
            raise DataError(f"Modality '{m}' has images of {'×'.join(map(str, a))} in train and "
                            f"{'×'.join(map(str, b))} in test (C×H×W); one modality needs one shape.")
    if (train_labels is None) != (test_labels is None):
        raise DataError("Labels were given for one split only; give train_labels and test_labels, or neither.")
    n = {s: len(next(iter(images[s].values()))) for s in SPLITS}
    labels = {"train": None, "test": None} if train_labels is None else {
        "train": as_labels(train_labels, n["train"], "train_labels"),
        "test": as_labels(test_labels, n["test"], "test_labels")}
    per_modality = {m: {s: images[s][m] for s in SPLITS} for m in mods}
    sources = [_source(name, m, per_modality[m], labels) for m in mods]
    classes = 0 if labels["train"] is None else int(max(labels["train"].max(), labels["test"].max())) + 1

    def load(cfg, split: str):
        return aligned_tuples(mods, [s.name for s in sources], [images[split][m] for m in mods],
                              labels[split], classes)

    shapes = ", ".join(f"{m} {'×'.join(map(str, per_modality[m]['train'].shape[1:]))}" for m in mods)
    info = DatasetInfo(name, description or f"your data: {shapes}; {n['train']} train / {n['test']} test tuples, "
                       + (f"{classes} classes" if classes else "no labels"), lambda cfg=None: list(sources), load)
    DATASETS.unregister(name)
    USER_DATASETS.add(name)
    return register_dataset(info)


def register_folder(name: str, folder, remember: bool = False) -> DatasetInfo:
    """Registers a folder of paired images (layout: :mod:`mmvae.data.folders`) as ``name``;
    ``remember`` also records it for later processes (what ``mmvae data register`` does)."""
    _check_name(name)
    train, test, y_train, y_test = read_folder(folder)
    info = register_arrays(name, train, test, y_train, y_test)
    if remember:
        record_folder(name, folder)
    return info


def find_recorded(name: str) -> None:
    """Registers ``name`` from its recorded folder, if ``mmvae data register`` recorded one."""
    folder = recorded_folders().get(name)
    if folder is not None and name not in DATASETS:
        register_folder(name, folder)


DATASET_FINDERS.append(find_recorded)
