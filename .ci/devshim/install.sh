#!/usr/bin/env bash
# Dev/CI only: install the torchvision schema shim into the venv of PYTHON ($1) when (and
# only when) its PyPI torchvision cannot import on the local CPU torch. Used by .ci/setup
# and scripts/install_check.sh.
set -euo pipefail
PY=$1
here=$(cd "$(dirname "$0")" && pwd)
if "$PY" -c "import torchvision" >/dev/null 2>&1; then
  exit 0
fi
if "$PY" -c "import torch" >/dev/null 2>&1 && "$PY" -m pip show -q torchvision >/dev/null 2>&1; then
  site=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  cp "$here/convpaint_dev_torchvision_shim.py" "$site/"
  echo "import convpaint_dev_torchvision_shim; convpaint_dev_torchvision_shim.install()" \
    >"$site/convpaint_dev_torchvision_shim.pth"
  "$PY" -c "import torchvision" && echo "installed the dev torchvision shim into $site"
fi
