#!/usr/bin/env bash
# The GPU check (docs/performance.md, "GPU"): on a Linux machine with an NVIDIA GPU and
# its driver, installs easymtl with the `gpu` extra as docs/gpu.md says, runs the fast
# lane on the GPU, then the throughput bench (MMoE, float32 and mixed_precision BF16),
# and writes every figure to OUT_DIR (default: $OUT if set, else ./gpu_check_out).
# Within 10 minutes: each stage has its own time limit (install 4, fast lane 3, bench 3).
#
#   bash scripts/bench/gpu_check.sh [OUT_DIR]
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
log "install: .[gpu,dev] into $VENV"
timeout 240 bash -c "
  set -e
  python3 -m venv $VENV
  $VENV/bin/pip install -q -e '.[gpu,dev]'
  $VENV/bin/pip uninstall -q -y tensorflow-cpu
  $VENV/bin/pip install -q --force-reinstall --no-deps \
    \"tensorflow==\$($VENV/bin/pip show tensorflow | sed -n 's/^Version: //p')\"
" >"$OUT_DIR/install.log" 2>&1 || { log "install failed (see install.log)"; exit 3; }
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
# (its virtualenv would be a second TensorFlow install).
log "bench"
BF16_CONFIG="$OUT_DIR/mmoe_bf16.config"
sed 's/^train_config {/train_config {\n    mixed_precision: "BF16"/' \
  samples/configs/mmoe_taobao.config >"$BF16_CONFIG"
for config in samples/configs/mmoe_taobao.config "$BF16_CONFIG"; do
  name=$(basename "$config" .config)
  timeout 100 "$VENV/bin/python" scripts/bench/throughput.py --config "$config" \
    --rows 100000 --train_steps 100 --eval_steps 30 --serving_calls 100 \
    --serving_auc_rows 5000 --skip_peer --json "$OUT_DIR/bench_$name.json" \
    >"$OUT_DIR/bench_$name.txt" 2>&1
  log "bench $name: exit $? (bench_$name.txt)"
done
cat "$OUT_DIR"/bench_*.txt >>"$OUT_DIR/summary.txt" 2>/dev/null
log "done: figures in $OUT_DIR"
