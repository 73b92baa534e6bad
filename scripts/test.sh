#!/usr/bin/env bash
# Sets up .venv (if needed) with easymtl and its dev tools, then runs the linter and the
# test suite. This is the README's test command and what CI runs (.ci/run); it prints the
# 20 slowest tests. With --fast (first argument) it runs the fast lane instead.
set -euo pipefail
cd "$(dirname "$0")/.."
START=$SECONDS
# The suite's wall time, printed last however it ends (its budget: 10 minutes on 2 cores).
trap 'echo "test suite wall time: $(( (SECONDS - START) / 60 ))m $(( (SECONDS - START) % 60 ))s"' EXIT
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
if [ "${1:-}" = "--fast" ]; then
  # The fast lane: one pass, no test marked slow (training beyond a few steps, other
  # processes, clusters, crashes); every model still trains, exports and serves.
  shift
  .venv/bin/python -m pytest -q -n 2 --dist loadscope -m "not slow" "$@"
  exit
fi
set -- --durations=20 "$@"
# Two test processes: much of a test is Python and process start-up, which one core runs.
# The heaviest test files go first (tests/durations.json; see tests/README.md, "Keeping
# the suite fast"), so that both processes finish together.
# TensorFlow turns oneDNN's kernels on by default only on CPUs with neural-network
# instructions (AVX512_VNNI, AVX512_BF16, AMX), and they change floating-point results
# (and what a NaN reaches). So the suite runs with them forced on, then the tests whose
# outcome depends on them with them off: the numerics (NaN and Inf), and the equalities
# (served outputs equal the model's, in-process and in every loader; streaming AUC equals
# the exact one; a withheld update changes nothing). Config checks and the CLI's error
# lines run before TensorFlow loads, and the CLI start-up test sets the flag itself, so
# they run once. Any x86_64 machine checks both paths. Extra arguments go to both runs;
# the exit status is the first failing run's.
status=0
TF_ENABLE_ONEDNN_OPTS=1 .venv/bin/python -m pytest -q -n 2 --dist loadscope "$@" || status=$?
# tests/test_fast_lane.py's round trip trains, exports and serves every model (deep and
# wide groups together, loaded both ways); in test_export.py a process without easymtl
# serves one over every feature both ways.
ONEDNN_OFF_TESTS=(
  tests/test_numerics.py
  tests/test_export.py::test_a_process_without_easymtl_serves_the_same_both_ways
  tests/test_fast_lane.py::test_model_trains_exports_and_serves
  tests/test_end_to_end.py::test_streaming_auc_matches_exact_auc
  tests/weighting/test_weighting_end_to_end.py::test_non_finite_step_changes_neither_model_nor_weighting
)
TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python -m pytest -q -n 2 --dist loadscope \
  "${ONEDNN_OFF_TESTS[@]}" "$@" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
exit "$status"
