#!/usr/bin/env bash
# Set up the dev environment (idempotent) and run lint + the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
