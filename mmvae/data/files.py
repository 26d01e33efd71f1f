"""File helpers for the data layer: cache folder, checksums, atomic downloads."""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
import zlib
from pathlib import Path

from ..errors import DataError


def cache_dir() -> Path:
    """Where generated data and pairing indices are cached: $MMVAE_CACHE or ~/.cache/mmvae."""
    root = os.environ.get("MMVAE_CACHE") or Path.home() / ".cache" / "mmvae"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def md5_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def read_maybe_gzip(path: Path) -> bytes:
    """The file's bytes, decompressed if it is gzip; a clear error if it is truncated."""
    try:
        with open(path, "rb") as f:
            magic = f.read(2)
        if magic == b"\x1f\x8b":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as e:
        raise DataError(
            f"{path} could not be read ({e.__class__.__name__}: {e}); the file is truncated or "
            "corrupt. Delete it and download it again (`mmvae data prepare --download`)."
        ) from None


def verify_splits(load, root) -> list[str]:
    """Problems (DataError messages) found loading the train and test splits with ``load``."""
    problems = []
    for split in ("train", "test"):
        try:
            load(root, split)
        except DataError as e:
            problems.append(str(e))
    return problems


def check_readable_dir(root: Path, what: str) -> None:
    if not root.exists():
        raise DataError(
            f"The data folder {root} does not exist. Create it or point --data-dir at the folder "
            f"that holds the {what} files."
        )
    if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
        raise DataError(
            f"The data folder {root} is not a readable directory. Fix its permissions or point "
            "--data-dir at another folder."
        )


def download(urls: list[str], dest: Path) -> Path:
    """Fetches the first URL that answers into ``dest`` (temp file + rename)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in urls:
        try:
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                shutil.copyfileobj(resp, out)
            os.replace(tmp, dest)
            return dest
        except OSError as e:
            errors.append(f"{url}: {e}")
            Path(tmp).unlink(missing_ok=True)
    raise DataError(
        f"Could not download {dest.name}: " + "; ".join(errors) + ". Without a network, download "
        f"the file elsewhere and put it in {dest.parent} (or pass --data-dir)."
    )
