"""Memory allocator settings for training and inference processes (glibc on Linux).

glibc serves allocations above a threshold (128 KiB at first) with fresh ``mmap``
pages and gives them back when freed, so every batch of a mid-sized LSTM
page-faults its activations in again. Raising the threshold and keeping freed
memory in the heap removes that cost: on this project's 2-core machine W4 (two
LSTM(128) layers over 96 steps) trained 659 instead of 482 samples/s and predicted
2,315 instead of 1,888 (BENCHMARKS.md, ``speed.py --allocator tuned``). The price
is that the process keeps its peak memory until it exits. The ``lstmkit`` command
applies the settings; Python users may call ``keep_freed_memory()`` once at start.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # glibc's mallopt parameters
MMAP_THRESHOLD = 256 * 2**20                   # serve blocks below 256 MiB from the heap
TRIM_THRESHOLD = 2**30                         # give memory back only above 1 GiB free
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


def keep_freed_memory() -> bool:
    """Ask glibc to reuse freed memory instead of unmapping it; True if applied.

    Does nothing (False) on other platforms and C libraries, or when the user
    set glibc's own malloc environment variables, which then stay in force.

    Example:
        >>> import lstmkit.allocator
        >>> lstmkit.allocator.keep_freed_memory()   # once, before training
        True
    """
    if not sys.platform.startswith("linux") or any(name in os.environ for name in USER_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
