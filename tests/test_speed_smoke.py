"""The speed benchmark's quick mode runs end to end (timings are for BENCHMARKS.md, not tests)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SPEED = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"


def test_quick_speed_benchmark_measures_both_systems_on_w1_and_w5():
    run = subprocess.run([sys.executable, str(SPEED), "--quick"], capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = {line.split("|")[1].strip(): line for line in run.stdout.splitlines()
            if re.match(r"\| W\d \|", line)}
    assert set(rows) == {"W1", "W5"}
    for row in rows.values():
        cells = [c.strip() for c in row.strip("|").split("|")]
        train_ratio, infer_ratio = float(cells[4]), float(cells[7])
        assert train_ratio > 0 and infer_ratio > 0      # both systems trained and predicted
