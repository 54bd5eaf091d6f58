#!/usr/bin/env bash
# Issue 4's GPU measurements in one command, for a GPU machine lent for minutes:
#   1. speed.py --device cuda: lstmkit beside the eager cuDNN loop, W1-W5, batch 64 and 256;
#   2. ETTh1's four horizons (seed 0) by the accuracy harness, timed, on the GPU;
#   3. only with WEATHER_SECONDS > 0: weather's long-horizon runs (issue 3; hours each on
#      one CPU core), as parallel processes, WEATHER_RUNS="horizon:seed ..." (default: H=192,
#      336, 720 x seeds 0-2). Stage weather.csv.gz as ETTh1 below; SPEED_SECONDS=0 and
#      ACCURACY_SECONDS=0 skip parts 1-2.
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
#   mkdir -p .gpudata/forecasting/weather   # for part 3
#   cp ../shared/data/forecasting/weather/weather.csv.gz .gpudata/forecasting/weather/
#
# Results (RESULTS, default runs/gpu): gpu.txt, smoke.md and .jsonl, speed.md and .jsonl (the
# raw figures: speed.py --table --results speed.jsonl prints the table again), accuracy.jsonl,
# accuracy.log, and for part 3 weather.jsonl and weather.log (lines prefixed by the run).
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
timeout 90 python3 benchmarks/speed.py --device cuda --quick --results "$out/smoke.jsonl" 2>&1 \
    | tee "$out/smoke.md" \
    || { echo "the CUDA smoke run failed: fix it before the long parts"; exit 1; }
if (( ${SPEED_SECONDS:-300} > 0 )); then
    timeout "${SPEED_SECONDS:-300}" python3 benchmarks/speed.py --device cuda --repeats 5 \
        --results "$out/speed.jsonl" 2>&1 | tee "$out/speed.md" \
        || echo "speed.py stopped: exit $?" | tee -a "$out/speed.md"
fi
if (( ${ACCURACY_SECONDS:-180} > 0 )); then
    timeout "${ACCURACY_SECONDS:-180}" python3 benchmarks/accuracy/run.py --only etth1 \
        --seeds 0 --results "$out/accuracy.jsonl" 2>&1 | tee "$out/accuracy.log" \
        || echo "run.py stopped: exit $?" | tee -a "$out/accuracy.log"
fi
if (( ${WEATHER_SECONDS:-0} > 0 )); then
    for run in ${WEATHER_RUNS:-192:0 192:1 192:2 336:0 336:1 336:2 720:0 720:1 720:2}; do
        horizon=${run%:*} seed=${run#*:}
        # One CPU thread each: the runs' work is on the GPU, and nine processes share the CPUs.
        { OMP_NUM_THREADS=1 timeout "$WEATHER_SECONDS" python3 benchmarks/accuracy/run.py \
              --only weather --horizons "$horizon" --seeds "$seed" \
              --results "$out/weather.jsonl" 2>&1 || echo "stopped: exit $?"; } \
            | sed -u "s/^/[H=$horizon seed $seed] /" >> "$out/weather.log" &
    done
    wait
    cat "$out/weather.jsonl" 2>/dev/null || echo "no weather run finished"
fi
