#!/usr/bin/env bash
# Issue 4's GPU measurements in one command, for a GPU machine lent for minutes:
#   1. speed.py --device cuda: lstmkit beside the eager cuDNN loop, W1-W5, batch 64 and 256;
#   2. ETTh1's four horizons (seed 0) by the accuracy harness, timed, on the GPU.
# Each part has its own time limit, so one stuck part leaves the other's results.
#
# It runs lstmkit from src/ without installing it: the machine's python3 needs torch with
# CUDA, Lightning, numpy, pandas, safetensors, rich, pyyaml and scikit-learn. The data
# come from $LSTMKIT_DATA_DIR, laid out like ../shared/data; stage ETTh1 there first:
#
#   mkdir -p .gpudata/forecasting/ETT-small && echo /.gpudata/ >> .git/info/exclude
#   cp ../shared/data/forecasting/ETT-small/ETTh1.csv .gpudata/forecasting/ETT-small/
#   LSTMKIT_DATA_DIR=.gpudata RESULTS=$OUT bash benchmarks/gpu.sh   # on the GPU machine
#
# Results (RESULTS, default runs/gpu): gpu.txt, smoke.md, speed.md, accuracy.jsonl,
# accuracy.log.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${RESULTS:-runs/gpu}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export LSTMKIT_DATA_DIR="$(realpath "${LSTMKIT_DATA_DIR:?stage the data set first (see above)}")"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c "import torch, lightning; print('torch', torch.__version__, 'lightning',
lightning.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$out/gpu.txt"

# A minute-long smoke run first: a failure shows before the long parts spend the lease.
timeout 90 python3 benchmarks/speed.py --device cuda --quick 2>&1 | tee "$out/smoke.md" \
    || { echo "the CUDA smoke run failed: fix it before the long parts"; exit 1; }
timeout "${SPEED_SECONDS:-300}" python3 benchmarks/speed.py --device cuda --repeats 5 \
    2>&1 | tee "$out/speed.md" || echo "speed.py stopped: exit $?" | tee -a "$out/speed.md"
timeout "${ACCURACY_SECONDS:-180}" python3 benchmarks/accuracy/run.py --only etth1 --seeds 0 \
    --results "$out/accuracy.jsonl" 2>&1 | tee "$out/accuracy.log" \
    || echo "run.py stopped: exit $?" | tee -a "$out/accuracy.log"
