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
exec .venv/bin/python -m pytest -q -n 2 --dist loadscope "$@"
