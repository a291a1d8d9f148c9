#!/usr/bin/env bash
# Set up the dev environment (idempotent) and run lint + the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup
.venv/bin/ruff check .
# Install as users do: wheels of every package into a fresh venv (CONVPAINT_INSTALL_CHECK=0 skips).
if [ "${CONVPAINT_INSTALL_CHECK:-1}" != 0 ]; then
  bash scripts/install_check.sh vgg
  bash scripts/install_check.sh all
fi
.venv/bin/python -m pytest -q "$@"
