#!/usr/bin/env bash
# Create benchmarks/peers/.venv: the peer libraries (Keras 3 on TensorFlow, Darts,
# NeuralForecast) that the speed benchmark compares lstmkit against. This venv is
# NOT part of lstmkit's dependencies. Idempotent; runnable from any directory.
#
# torch is pinned to 2.13.0, the CPU build whose wheel is on this machine (pip
# finds it in /opt/wheels); every later install runs under a constraints
# file with that pin, so no package can pull a different torch (or the CUDA one).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
PY="$VENV/bin/python"
STAMP="$VENV/.peers-installed"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "$PY" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
if [[ "$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "3.11" ]]; then
    echo "setup.sh: $VENV is not Python 3.11; remove it and set PYTHON=python3.11" >&2
    exit 1
fi

# Skip the (slow) resolver when this exact script already completed an install.
SIG="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$SIG" ]] \
    && "$PY" -c 'import torch, tensorflow, keras, darts, neuralforecast' 2>/dev/null; then
    echo "setup.sh: $VENV is up to date"
    exit 0
fi

CONSTRAINTS="$VENV/constraints.txt"
echo "torch==2.13.0" > "$CONSTRAINTS"
export PIP_CONSTRAINT="$CONSTRAINTS"
export PIP_DISABLE_PIP_VERSION_CHECK=1

"$PY" -m pip install --upgrade pip
# The local CPU wheel (also reached through PIP_FIND_LINKS on this machine's kind).
FIND=()
[[ -d /opt/wheels ]] && FIND=(--find-links /opt/wheels)
"$PY" -m pip install "${FIND[@]}" "torch==2.13.0"
"$PY" -m pip install tensorflow-cpu "keras>=3"
"$PY" -m pip install darts neuralforecast pandas numpy

"$PY" - <<'PY'
import importlib.metadata as md
for name in ("torch", "tensorflow-cpu", "keras", "darts", "neuralforecast",
             "pytorch-lightning", "pandas", "numpy"):
    try:
        print(f"{name}=={md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name}: not installed")
PY
echo "$SIG" > "$STAMP"
