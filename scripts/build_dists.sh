#!/usr/bin/env bash
# Build a wheel and an sdist of every package -- each directory under packages/ and the
# `convpaint` meta-package at the top -- into one folder (default dist/; the wheel is built
# from the sdist, so an incomplete sdist fails here). Needs the dev venv (bash .ci/setup).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-dist}
PY=${PYTHON:-.venv/bin/python}
"$PY" scripts/set_version.py  # one version for all packages, pins included
rm -rf "$OUT"
mkdir -p "$OUT"
for dir in packages/*/ ./; do
  [ -f "$dir/pyproject.toml" ] || continue
  "$PY" -m build --no-isolation --outdir "$OUT" "$dir" >"$OUT/.build.log" 2>&1 || {
    cat "$OUT/.build.log" >&2
    echo "build_dists: building $dir failed" >&2
    exit 1
  }
done
rm -f "$OUT/.build.log"
ls "$OUT"
