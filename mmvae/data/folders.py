"""A folder of a user's paired images, and the small registry of folders recorded by name.

Layout: one sub-folder per modality holding its image files (PNG), and ``pairs.csv``, a CSV
file with a header: one column per modality naming an image file in that modality's sub-folder,
a ``split`` column (``train`` or ``test``) and, optionally, a ``label`` column (an integer class
per tuple, 0 … C−1). Each row is one tuple.

``mmvae data register NAME FOLDER`` records NAME → FOLDER in a JSON file (``$MMVAE_DATASETS``,
default ``datasets.json`` in the cache folder), so that later commands in other processes find
the dataset by its name.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..utils import atomic_write_text
from .files import cache_dir

PAIRS_FILE = "pairs.csv"
RESERVED_COLUMNS = ("label", "split")
SPLITS = ("train", "test")


def read_image(path: Path) -> np.ndarray:
    """A PNG as uint8 [C, H, W]: grey → 1 channel, colour → 3; an opaque alpha channel is
    dropped (a transparent one is kept as a fourth channel)."""
    import matplotlib.image

    try:
        arr = matplotlib.image.imread(path)
    except (OSError, ValueError, SyntaxError) as e:
        raise DataError(f"{path} could not be read as an image ({e}). Save it as a PNG file.") from None
    if arr.dtype != np.uint8:  # PNGs are read as floats in [0, 1]
        arr = np.round(np.clip(arr, 0.0, 1.0) * 255).astype(np.uint8)
    if arr.ndim == 2:
        return arr[None]
    arr = arr.transpose(2, 0, 1)
    if arr.shape[0] == 4 and (arr[3] == 255).all():
        arr = arr[:3]
    return np.ascontiguousarray(arr)


def _rows(folder: Path) -> tuple[list[str], list[dict]]:
    """(modality columns, rows) of the folder's pairs file, with the header checked."""
    pairs = folder / PAIRS_FILE
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder. Give the folder that holds {PAIRS_FILE} and one sub-folder "
                        "of images per modality.")
    if not pairs.is_file():
        raise DataError(f"{folder} has no {PAIRS_FILE}. Write one: a header naming the modalities (the sub-folders), "
                        "'split' and optionally 'label', then one row per tuple, e.g. 'photo,sketch,label,split' / "
                        "'0001.png,0001.png,3,train'.")
    with open(pairs, newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's byte-order mark
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        rows = [{k: (v or "").strip() for k, v in r.items() if k is not None} for r in reader]
    modalities = [h for h in header if h not in RESERVED_COLUMNS]
    if "split" not in header or not modalities:
        raise DataError(f"{pairs} has the header {header}; it needs a 'split' column (train/test) and one column "
                        "per modality (the name of its sub-folder), plus an optional 'label' column.")
    return modalities, rows


def _check_rows(folder: Path, modalities: list[str], rows: list[dict]) -> None:
    """Splits are train/test, every named image exists, labels are all given or none."""
    pairs = folder / PAIRS_FILE
    bad = [(i + 2, r.get("split")) for i, r in enumerate(rows) if r.get("split") not in SPLITS]
    if bad:
        raise DataError(f"{pairs} line {bad[0][0]}: split is {bad[0][1]!r}; every row needs 'train' or 'test'.")
    for m in modalities:
        if not (folder / m).is_dir():
            raise DataError(f"{pairs} names the modality '{m}', but {folder / m} is not a folder. Put its images "
                            "there or rename the column.")
    missing = [f"{m}/{r[m]}" for r in rows for m in modalities if not r.get(m) or not (folder / m / r[m]).is_file()]
    if missing:
        raise DataError(f"{pairs} names {len(missing)} image(s) that are not in {folder}, e.g. "
                        f"{', '.join(missing[:3])}. Add the files or remove their rows; nothing was registered.")
    given = [bool(r.get("label")) for r in rows]
    if any(given) and not all(given):
        raise DataError(f"{pairs} has labels on some rows and not on others (line {given.index(False) + 2} has "
                        "none). Label every tuple, or drop the 'label' column for unlabelled data.")


def _labels(folder: Path, rows: list[dict]) -> np.ndarray | None:
    if not rows or not rows[0].get("label"):
        return None
    try:
        return np.array([int(r["label"]) for r in rows], dtype=np.int64)
    except ValueError:
        raise DataError(f"{folder / PAIRS_FILE}: labels must be integers 0 … C−1 (one class per tuple).") from None


def _stack(folder: Path, modality: str, files: list[str]) -> np.ndarray:
    """The modality's images [N, C, H, W], all of one shape."""
    images = [read_image(folder / modality / name) for name in files]
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        first = images[0].shape
        odd = next(i for i, im in enumerate(images) if im.shape != first)
        raise DataError(f"The images of modality '{modality}' have different shapes: {files[0]} is "
                        f"{'×'.join(map(str, first))} and {files[odd]} is {'×'.join(map(str, images[odd].shape))} "
                        "(C×H×W). Resize them to one size (and one channel count) per modality.")
    return np.stack(images) if images else np.zeros((0, 1, 1, 1), np.uint8)


def read_folder(folder: str | Path) -> tuple[dict, dict, np.ndarray | None, np.ndarray | None]:
    """(train images by modality, test images by modality, train labels, test labels) of a
    folder in the layout above; every problem is a :class:`DataError` naming it."""
    folder = Path(folder)
    modalities, rows = _rows(folder)
    _check_rows(folder, modalities, rows)
    out: list = []
    for split in SPLITS:
        chosen = [r for r in rows if r["split"] == split]
        if not chosen:
            raise DataError(f"{folder / PAIRS_FILE} has no '{split}' rows; both splits need tuples.")
        out.append({m: [r[m] for r in chosen] for m in modalities})
    labels = [_labels(folder, [r for r in rows if r["split"] == s]) for s in SPLITS]
    images = [{m: _stack(folder, m, names) for m, names in split.items()} for split in out]
    return images[0], images[1], labels[0], labels[1]


# ---------------------------------------------------------------------- recorded folders


def registry_path() -> Path:
    """The JSON file of recorded folders: $MMVAE_DATASETS, or datasets.json in the cache folder."""
    env = os.environ.get("MMVAE_DATASETS")
    return Path(env) if env else cache_dir() / "datasets.json"


def recorded_folders() -> dict[str, str]:
    """Name → folder of every dataset recorded by ``mmvae data register``."""
    path = registry_path()
    if not path.is_file():
        return {}
    try:
        found = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"The dataset registry {path} could not be read ({e}). Delete it and register your "
                        "folders again with `mmvae data register NAME FOLDER`.") from None
    return {str(k): str(v["folder"]) for k, v in found.items()} if isinstance(found, dict) else {}


def record_folder(name: str, folder: str | Path) -> Path:
    """Records (or replaces) name → the folder's absolute path; returns the registry file."""
    path = registry_path()
    entries = {k: {"folder": v} for k, v in recorded_folders().items()}
    entries[name] = {"folder": str(Path(folder).resolve())}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(entries, indent=1, sort_keys=True))
    return path
