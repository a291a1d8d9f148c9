#!/usr/bin/env bash
# Set up the dev environment (idempotent), lint, format check, type check, then the test suite
# with the install check beside it; then the slow tests in their own time-boxed step.
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
# It runs beside the main suite (mostly pip's downloads and unpacking); its log follows the
# suite's, and either failing fails the run.
check_pid=""
if [ "${CONVPAINT_INSTALL_CHECK:-1}" != 0 ]; then
  check_log=$(mktemp "${TMPDIR:-/tmp}/convpaint-install-check-log.XXXXXX")
  bash scripts/install_check.sh vgg all >"$check_log" 2>&1 &
  check_pid=$!
fi
rc=0
.venv/bin/python -m pytest -q "$@" || rc=$?  # deselects the `slow` marker (pyproject addopts)
if [ -n "$check_pid" ]; then
  check_rc=0
  wait "$check_pid" || check_rc=$?
  cat "$check_log"
  rm -f "$check_log"
  if [ "$check_rc" != 0 ]; then
    echo "test.sh: the install check failed (exit $check_rc)" >&2
    exit 1
  fi
fi
[ "$rc" = 0 ] || exit "$rc"
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
