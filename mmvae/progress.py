"""Progress bars (tqdm); disabled with MMVAE_PROGRESS=0, and sparse when stderr is a log file."""
from __future__ import annotations

import os
import sys

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
    if not sys.stderr.isatty():  # a log file gets a line every 30 s, not every refresh
        kwargs.setdefault("mininterval", 30.0)
    return tqdm(iterable, **kwargs)
