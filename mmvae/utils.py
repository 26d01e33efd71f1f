"""Small helpers every layer may use: atomic writes, hashing and seeds derived per purpose.

This module sits at the bottom of the import order (see ``docs/architecture.md``): it imports
nothing from the package but :mod:`mmvae.errors`.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import OutputError


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path`` and renames it into place, so a crash
    leaves either the old file or the new one, never half of one."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"Could not write {path}: {e}. Check that the folder is writable and has space.") from None


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_json(obj: Any, length: int = 64) -> str:
    """SHA-256 of ``obj`` as canonical JSON (sorted keys), cut to ``length`` hex digits."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:length]


# The purposes a run derives random streams for; each gets its own seed from the run seed, so
# changing how one is used never shifts another.
SEED_PURPOSES = ("epoch_order", "evaluation", "metrics", "figures", "subset")


def derive_seed(seed: int, purpose: str, *salt: int) -> int:
    """A 63-bit seed for ``purpose`` (one of :data:`SEED_PURPOSES`) from the run seed and
    optional integers (an epoch, say): independent streams without ad-hoc formulas."""
    if purpose not in SEED_PURPOSES:
        raise ValueError(f"unknown seed purpose {purpose!r}; add it to SEED_PURPOSES")
    digest = hashlib.sha256(json.dumps([int(seed), purpose, *map(int, salt)]).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
