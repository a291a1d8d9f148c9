#!/usr/bin/env bash
# Install Convpaint as users get it and run it: build every package's wheel and sdist
# (scripts/build_dists.sh), create a fresh venv, `pip install "convpaint[EXTRAS]==VERSION"`
# from that folder plus the registry, then run `convpaint extractors` and `convpaint demo`
# outside the source tree.  Usage: scripts/install_check.sh [EXTRAS]   (default: vgg)
# torch comes from .ci/constraints.txt (the local CPU build); the fresh venv gets the same
# dev-only torchvision shim as .ci/setup.  pip's cache is reused between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
EXTRAS=${1:-vgg}
VERSION=$(cat VERSION)
PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/convpaint-install-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)
bash scripts/build_dists.sh "$WORK/dist" >/dev/null
"$PY" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q --disable-pip-version-check -c .ci/constraints.txt \
  --find-links "$WORK/dist" "convpaint[$EXTRAS]==$VERSION" 2>&1 | grep -v "^WARNING: Location" || true
bash .ci/devshim/install.sh "$VPY" >/dev/null
installed=$(date +%s)
cd "$WORK"  # nothing of the source tree on sys.path
"$VPY" - "$EXTRAS" "$ROOT" <<'PY'
import importlib.metadata as md
import sys
from pathlib import Path

extras, root = sys.argv[1], Path(sys.argv[2]).resolve()
import convpaint

where = Path(convpaint.__file__).resolve()
assert root not in where.parents, f"convpaint imported from the source tree: {where}"
assert (where.parent / "py.typed").is_file(), "py.typed missing from the installed wheel"
for dist in ("convpaint", "convpaint-core"):
    assert md.version(dist) == convpaint.__version__, (dist, md.version(dist))
PY
"$WORK/venv/bin/convpaint" extractors | tee "$WORK/extractors.txt"
want="raw ilastik"
case ",$EXTRAS," in *,vgg,*|*,all,*) want="$want vgg16" ;; esac
case ",$EXTRAS," in *,all,*) want="$want dinov2 uni cellpose" ;; esac
for name in $want; do
  grep -q "^$name " "$WORK/extractors.txt" || { echo "install_check: extractor $name missing" >&2; exit 1; }
done
"$WORK/venv/bin/convpaint" demo -o "$WORK/demo"
for f in coins_labels.tif coins_overlay.png coins_scribbles_and_result.png; do
  [ -s "$WORK/demo/$f" ] || { echo "install_check: demo did not write $f" >&2; exit 1; }
done
case ",$EXTRAS," in *,vgg,*|*,all,*)  # torch + torchvision as installed: train and segment
  "$VPY" -c "
import warnings; warnings.simplefilter(\"ignore\")
import numpy as np, convpaint
rng = np.random.default_rng(0)
img = rng.random((64, 64), dtype=np.float32); ann = np.zeros((64, 64), np.uint8)
ann[5, 5:20], ann[40, 30:50] = 1, 2
m = convpaint.ConvpaintModel('vgg16', weights='random', n_estimators=5).train(img, ann)
assert m.segment(img).shape == img.shape
print('vgg16 (random weights): train + segment OK')
" ;;
esac
end=$(date +%s)
echo "install_check: convpaint[$EXTRAS]==$VERSION from built wheels OK" \
  "(build + venv + install $((installed - start)) s, total $((end - start)) s)"
