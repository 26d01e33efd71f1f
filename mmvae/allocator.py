"""Keep freed activation memory in the process heap instead of returning it to the system.

glibc's malloc serves blocks above a threshold (dynamic, from 128 KiB) with fresh ``mmap``
pages and unmaps them on free, so every training step page-faults its multi-MB activations
and gradients back in. On the 2-core CPU of ``docs/performance.md`` that cost 10–15% of a step
(one 8 MB convolution input took 2.4 ms instead of 0.8 ms), and 20–25% at K=30, whose
activations reach hundreds of MB. Raising the mmap threshold to 512 MiB and the trim threshold
to 1 GiB keeps those pages mapped and reused.

The ``mmvae`` command applies this at start-up; set ``MMVAE_MALLOC_TUNING=0`` to leave the
allocator alone. Library users may call :func:`tune_allocator` themselves. The setting is
process-wide and costs at most the trim threshold of memory kept after a peak.
"""
from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 512 << 20
TRIM_THRESHOLD = 1 << 30


def tune_allocator() -> bool:
    """Applies the thresholds above where the C library is glibc; returns whether it did."""
    if os.environ.get("MMVAE_MALLOC_TUNING", "1") == "0":
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # the mmap threshold first: setting either one turns off glibc's dynamic adjustment
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
