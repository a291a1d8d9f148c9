#!/usr/bin/env bash
# Set up the dev environment (idempotent) and run the demo; outputs go to ./convpaint-demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup
.venv/bin/convpaint demo -o convpaint-demo "$@"
