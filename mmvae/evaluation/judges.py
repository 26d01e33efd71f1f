"""The judges that ship inside the package, so evaluation needs no classifier training and two
users' coherence numbers are judged by the same networks.

Each shipped judge is ``mmvae/judges/<source>.safetensors`` (float16 weights) with a JSON beside
it: the source and the distribution it judges, the command that trained it, a hash of its
training and test data, its test accuracy (measured with the float16 weights) and the SHA-256
of the weights. A judge is used for a source only when the distribution matches; a file whose
hash does not match its record is refused by name.
"""
from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..errors import CheckpointError
from ..utils import atomic_write_text, sha256_file
from .classifiers import (
    CLASSIFIER_VERSION,
    Classifier,
    DigitClassifier,
    accuracy,
    classifier_path,
    distribution,
    load_classifier,
    train_source_classifier,
)

# accuracy a judge must reach to ship: real MNIST ≥ 99.0%, generated sources ≥ 98%
TARGETS = {"real": 0.990, "generated": 0.980}


def shipped_dir() -> Path:
    return Path(str(resources.files("mmvae") / "judges"))


def shipped_records() -> list[tuple[Path, dict]]:
    """(weights path, record) of every shipped judge."""
    folder = shipped_dir()
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        out.append((path.with_suffix(".safetensors"), json.loads(path.read_text())))
    return out


def shipped_judge(source, data_cfg, device="cpu") -> Classifier | None:
    """The shipped judge of ``source`` for this data's distribution, verified, or None."""
    want = distribution(source, data_cfg)
    for path, meta in shipped_records():
        if meta.get("source") != source.name or meta.get("distribution") != want:
            continue
        if not path.is_file():
            raise CheckpointError(
                f"The judge shipped with mmvae for '{source.name}' has its record {path.with_suffix('.json')} but "
                f"not its weights {path}: the installation is incomplete. Reinstall mmvae, or rebuild the judge "
                f"with `mmvae classifiers train --source {source.name} --ship`.")
        if sha256_file(path) != meta.get("sha256"):
            raise CheckpointError(
                f"The judge shipped with mmvae for '{source.name}' ({path}) does not match the SHA-256 in its record: "
                "the file was changed or damaged. Reinstall mmvae (pip install --force-reinstall mmvae), or rebuild it "
                f"with `mmvae classifiers train --source {source.name} --ship`; it will not be used as it is.")
        return load_classifier(path, source.name, source.shape, device)
    return None


def shipped_name(source: str, dist: list) -> str:
    """``<source>-<8 hex digits of its distribution>.safetensors``: one file per source and data."""
    return f"{source}-{hashlib.sha256(json.dumps(dist).encode()).hexdigest()[:8]}.safetensors"


def data_hash(*tensors: torch.Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def ship(clf: Classifier, source, data_cfg, command: str, folder: Path | None = None) -> Path:
    """Writes ``clf`` as a shipped judge (float16 weights; accuracy re-measured with them)."""
    folder = folder or shipped_dir()
    x_tr, y_tr = source.load("train", data_cfg)
    x_te, y_te = source.load("test", data_cfg)
    half = {k: v.detach().cpu().half().contiguous() for k, v in clf.net.state_dict().items()}
    net = DigitClassifier(clf.net.shape, clf.net.num_classes, clf.net.layers, clf.net.hidden)
    net.load_state_dict({k: v.float() for k, v in half.items()})
    acc = accuracy(net.eval(), x_te, y_te)
    path = folder / shipped_name(source.name, distribution(source, data_cfg))
    folder.mkdir(parents=True, exist_ok=True)
    save_file(half, str(path))
    meta = {"source": source.name, "distribution": distribution(source, data_cfg), "shape": list(net.shape),
            "num_classes": net.num_classes, "layers": net.layers, "hidden": net.hidden, "dtype": "float16",
            "test_accuracy": acc, "test_accuracy_float32": clf.test_accuracy, "n_train": len(y_tr),
            "n_test": len(y_te), "data_sha256": data_hash(x_tr, y_tr, x_te, y_te), "command": command,
            "sha256": sha256_file(path), "version": CLASSIFIER_VERSION, "shipped": True}
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=1))
    return path


def get_classifier(source, data_cfg, folder=None, device="cpu", epochs: int = 4, log=print) -> Classifier:
    """The judge of ``source``: the one shipped with mmvae for this data, else the cached one,
    else one trained now (announced with an estimate of how long it takes) and cached."""
    shipped = shipped_judge(source, data_cfg, device)
    if shipped is not None:
        return shipped
    path = classifier_path(source, data_cfg, folder)
    if path.is_file():
        return load_classifier(path, source.name, source.shape, device)
    log(f"No digit classifier for '{source.name}' in {path.parent} (the judge of its coherence); training one on "
        "its training split. It is cached for later evaluations.")
    clf = train_source_classifier(source, data_cfg, epochs=epochs, folder=folder, device=device, log=log)
    log(f"Classifier '{source.name}': test accuracy {100 * clf.test_accuracy:.2f}% ({path}).")
    return clf
