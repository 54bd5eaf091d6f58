"""The allocator settings of lstmkit's processes: freed tensor memory is reused, not unmapped."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import numpy as np, os, sys
from lstmkit.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "tuned" else None
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
block = np.ones(64 * 2**20, dtype=np.uint8)       # 64 MiB, above glibc's default mmap threshold
held = rss()
del block
print(applied, (held - rss()) / 2**20)
"""


def _probe(mode: str, **env: str) -> tuple[str, float]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         env={**os.environ, **env}, check=True)
    applied, released = out.stdout.split()
    return applied, float(released)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_freed_blocks_stay_in_the_process_once_tuned():
    assert _probe("default") == ("None", pytest.approx(64, abs=4))     # unmapped at once
    applied, released = _probe("tuned")
    assert applied == "True" and released < 4                           # kept for reuse


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_the_users_own_malloc_settings_win():
    applied, released = _probe("tuned", MALLOC_TRIM_THRESHOLD_="0")
    assert applied == "False" and released == pytest.approx(64, abs=4)
