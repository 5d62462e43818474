#!/usr/bin/env bash
# The GPU study, run ON the GPU machine by the device tool, after benchmarks/gpu_study_prepare.sh here:
#
#     run(command="bash benchmarks/gpu_study_device.sh", carry=[".gpu"], timeout_s=570)
#
# Installs the carried wheels the machine lacks, runs `gpu-study` on CUDA with Keras on PyTorch, and puts
# into $OUT (what comes back, at most 8 files): the record JSON, its log, nvidia-smi before and after,
# the study's summary.json and predictions.parquet. Commit the record as docs/performance.md says.
# Environment: BUDGET_S (default 480: 10 minutes minus start-up and copying), DEVICE (cuda), EXTRA
# (more gpu-study options, e.g. --smoke for a one-minute check), PYTHON (python3).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 KERAS_BACKEND=torch TF_CPP_MIN_LOG_LEVEL=2
python=${PYTHON:-python3}
out=${OUT:-/tmp/gpu-study-out}
mkdir -p "$out"

if ! "$python" -c "import keras, pydantic" 2>/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .gpu/wheels/*.whl || { echo "could not install the carried wheels (.gpu/wheels)"; exit 3; }
    export PYTHONPATH="$PWD:/tmp/site"
else
    export PYTHONPATH="$PWD"
fi
[ -d .gpu/shared/data/kermany-224 ] || "$python" -c \
    "import tarfile; tarfile.open('.gpu/kermany-224.tar.xz').extractall('.gpu/shared/data', filter='data')" ||
    { echo "could not unpack .gpu/kermany-224.tar.xz"; exit 3; }
nvidia-smi >"$out/nvidia-smi-before.txt" 2>&1 || true
# The record goes straight to $OUT: it is rewritten after every stage, so a run killed at the time limit
# still returns what it finished.
"$python" -m benchmark gpu-study --device "${DEVICE:-cuda}" --shared .gpu/shared --out "$out" \
    --budget-s "${BUDGET_S:-480}" ${EXTRA:-} 2>&1 | tee "$out/gpu-study.log"
status=${PIPESTATUS[0]}
nvidia-smi >"$out/nvidia-smi-after.txt" 2>&1 || true
record=$(ls -t "$out"/*.json 2>/dev/null | head -1)
if [ -n "$record" ]; then
    run_dir=$("$python" -c "import json,sys; print(json.load(open(sys.argv[1])).get('run_dir') or '')" "$record")
    for name in summary.json predictions.parquet; do
        [ -n "$run_dir" ] && [ -f "$run_dir/$name" ] && cp "$run_dir/$name" "$out/"
    done
fi
ls -la "$out"
exit "$status"
