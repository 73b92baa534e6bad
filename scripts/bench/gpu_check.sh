#!/usr/bin/env bash
# The GPU check (docs/performance.md, "GPU"): on a Linux machine with an NVIDIA GPU and
# its driver, installs easymtl with the `gpu` extra as docs/gpu.md says, runs the fast
# lane on the GPU, then the throughput bench (MMoE, float32 and mixed_precision BF16),
# and writes every figure to OUT_DIR (default: $OUT if set, else ./gpu_check_out).
# Within 10 minutes: each stage has its own time limit (install 4, data 0.5, fast lane 3,
# bench 2 x 1.4).
#
#   bash scripts/bench/gpu_check.sh [OUT_DIR]
#
# Where the machine cannot reach PyPI: GPU_VENV=DIR names a virtualenv that already has
# easymtl's dependencies with TensorFlow's CUDA build (easymtl itself is installed into
# it from this checkout, without dependencies), or WHEELS=DIR a directory of wheels
# (`pip download ".[gpu,dev]" -d DIR` on a machine that can reach PyPI) to install from.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT_DIR=${1:-${OUT:-gpu_check_out}}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
VENV=${GPU_VENV:-.venv-gpu}
log() { echo "[gpu_check $(date +%T)] $*" | tee -a "$OUT_DIR/summary.txt"; }

nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv \
  >"$OUT_DIR/nvidia_smi.csv" 2>&1 || { log "no NVIDIA GPU here (nvidia-smi failed)"; exit 2; }
log "GPU: $(tail -n +2 "$OUT_DIR/nvidia_smi.csv")"

# 1. Install (docs/gpu.md): the gpu extra, then the CUDA build put back in place.
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import tensorflow" 2>/dev/null; then
  log "install: using $VENV as it is (easymtl from this checkout, no dependencies)"
  timeout 120 "$VENV/bin/pip" install -q --no-deps -e . >"$OUT_DIR/install.log" 2>&1 ||
    { log "install into $VENV failed (see install.log)"; exit 3; }
else
  FROM=""
  [ -n "${WHEELS:-}" ] && FROM="--no-index --find-links=$WHEELS"
  log "install: .[gpu,dev] into $VENV ${WHEELS:+(from $WHEELS)}"
  timeout 240 bash -c "
    set -e
    python3 -m venv $VENV
    $VENV/bin/pip install -q $FROM -e '.[gpu,dev]'
    $VENV/bin/pip uninstall -q -y tensorflow-cpu
    $VENV/bin/pip install -q $FROM --force-reinstall --no-deps \
      \"tensorflow==\$($VENV/bin/pip show tensorflow | sed -n 's/^Version: //p')\"
  " >"$OUT_DIR/install.log" 2>&1 ||
    { log "install failed (see install.log; no PyPI here? set GPU_VENV or WHEELS)"; exit 3; }
fi
$VENV/bin/python -c "import tensorflow as tf; print(tf.__version__, tf.config.list_physical_devices('GPU'))" \
  >"$OUT_DIR/devices.txt" 2>&1
log "TensorFlow sees: $(tail -1 "$OUT_DIR/devices.txt")"
grep -q "GPU:0" "$OUT_DIR/devices.txt" || { log "TensorFlow sees no GPU"; exit 4; }

# 2. The fast lane, with the GPU visible (lint first, as scripts/test.sh does).
log "fast lane"
start=$(date +%s)
timeout 180 bash -c "
  $VENV/bin/ruff check . && \
  $VENV/bin/python -m pytest -q -n 8 --dist loadscope -m 'not slow' -p no:randomly
" >"$OUT_DIR/fast_lane.log" 2>&1
status=$?
log "fast lane: exit $status in $(( $(date +%s) - start )) s: $(grep -E '[0-9]+ (passed|failed)' "$OUT_DIR/fast_lane.log" | tail -1)"

# 3. The bench: MMoE in float32 and with mixed_precision BF16 (a GPU of compute
# capability 8.0 or more computes it), 100,000 rows, 100 steps of 1,024; no DeepCTR
# (its virtualenv would be a second TensorFlow install). The data first, on its own.
DATA="$OUT_DIR/data"
if [ ! -e "$DATA/DONE" ]; then
  timeout 60 "$VENV/bin/python" scripts/make_sample_data.py --out_dir="$DATA" \
    --train_rows=100000 --eval_rows=10000 --num_train_files=4 --sequence_length=0 \
    >"$OUT_DIR/data.log" 2>&1 && touch "$DATA/DONE" || log "data: failed (data.log)"
fi
log "bench"
BF16_CONFIG="$OUT_DIR/mmoe_bf16.config"
sed 's/^train_config {/train_config {\n    mixed_precision: "BF16"/' \
  samples/configs/mmoe_taobao.config >"$BF16_CONFIG"
grep -q 'mixed_precision: "BF16"' "$BF16_CONFIG" || log "bench: no BF16 config made"
for config in samples/configs/mmoe_taobao.config "$BF16_CONFIG"; do
  name=$(basename "$config" .config)
  timeout 85 "$VENV/bin/python" scripts/bench/throughput.py --config "$config" \
    --data_dir "$DATA" --rows 100000 --train_steps 100 --eval_steps 30 \
    --serving_calls 100 --serving_auc_rows 5000 --skip_peer \
    --json "$OUT_DIR/bench_$name.json" >"$OUT_DIR/bench_$name.txt" 2>&1
  log "bench $name: exit $? (bench_$name.txt)"
done
rm -rf "$DATA"
cat "$OUT_DIR"/bench_*.txt >>"$OUT_DIR/summary.txt" 2>/dev/null
log "done: figures in $OUT_DIR"
