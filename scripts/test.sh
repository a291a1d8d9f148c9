#!/usr/bin/env bash
# Set up the dev environment (idempotent), lint, format check, type check, install check and
# the test suite; then the slow tests in their own time-boxed step.
#   CONVPAINT_INSTALL_CHECK=0  skips the install check (wheels into fresh venvs)
#   CONVPAINT_SLOW_TESTS=0     skips the slow step; CONVPAINT_SLOW_TIMEOUT (s) bounds it
# Arguments go to both pytest runs (e.g. a path or -k EXPR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy  # files and options: [tool.mypy] in pyproject.toml
# Install as users do: the wheels of every package, built once, into a fresh venv per extra.
if [ "${CONVPAINT_INSTALL_CHECK:-1}" != 0 ]; then
  bash scripts/install_check.sh vgg all
fi
.venv/bin/python -m pytest -q "$@"  # deselects the `slow` marker (pyproject addopts)
if [ "${CONVPAINT_SLOW_TESTS:-1}" != 0 ]; then
  limit=${CONVPAINT_SLOW_TIMEOUT:-1500}
  rc=0
  timeout "$limit" .venv/bin/python -m pytest -q -m slow --durations=10 "$@" || rc=$?
  case $rc in
    0 | 5) ;;  # 5: no slow test among the selected paths
    124) echo "test.sh: the slow tests ran over ${limit} s" >&2; exit 1 ;;
    *) exit "$rc" ;;
  esac
fi
