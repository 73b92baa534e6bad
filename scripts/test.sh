#!/usr/bin/env bash
# Sets up .venv (if needed) with easymtl and its dev tools, then runs the linter and the
# test suite. This is the README's test command and what CI runs (.ci/run); it prints the
# 20 slowest tests. With --fast (first argument) it leaves out the tests marked slow.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
if [ "${1:-}" = "--fast" ]; then
  shift
  set -- -m "not slow" "$@"
else
  set -- --durations=20 "$@"
fi
# Two test processes: much of a test is Python and process start-up, which one core runs.
# TensorFlow turns oneDNN's kernels on by default only on CPUs with neural-network
# instructions (AVX512_VNNI, AVX512_BF16, AMX), and they change floating-point results
# (and what a NaN reaches). So the suite runs with them forced on, then the CLI, numerics
# and equality tests with them off: any x86_64 machine checks both paths. Extra arguments
# go to both runs; the exit status is the first failing run's.
status=0
TF_ENABLE_ONEDNN_OPTS=1 .venv/bin/python -m pytest -q -n 2 --dist loadscope "$@" || status=$?
ONEDNN_OFF_TESTS=(
  tests/test_numerics.py tests/test_config.py tests/test_bad_input.py tests/test_predict.py
  tests/test_end_to_end.py tests/test_eval_metrics.py tests/weighting/test_weighting_end_to_end.py
  tests/test_distributed.py
)
TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python -m pytest -q -n 2 --dist loadscope \
  "${ONEDNN_OFF_TESTS[@]}" "$@" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
exit "$status"
