"""Progress bars (tqdm), silenced when disabled or when stderr is not a terminal in tests."""
from __future__ import annotations

import os

from tqdm.auto import tqdm

_enabled = os.environ.get("MMVAE_PROGRESS", "1") != "0"


def set_enabled(flag: bool) -> None:
    global _enabled
    _enabled = flag


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar; ``disable`` follows the global setting unless given."""
    kwargs.setdefault("disable", not _enabled)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)
