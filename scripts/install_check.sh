#!/usr/bin/env bash
# Install Convpaint as users get it and run it: build every package's wheel and sdist ONCE
# (scripts/build_dists.sh, or reuse CONVPAINT_DIST=<folder> built by it), then for each
# EXTRAS create a fresh venv, `pip install "convpaint[EXTRAS]==VERSION"` from that folder plus
# the registry, and run `convpaint extractors` and `convpaint demo` outside the source tree.
# Usage: scripts/install_check.sh [EXTRAS ...]   (default: vgg; e.g. `vgg all`)
# torch comes from .ci/constraints.txt (the local CPU build); the fresh venv gets the same
# dev-only torchvision shim as .ci/setup.  pip's cache is reused between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VERSION=$(cat VERSION)
PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/convpaint-install-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
start=$(date +%s)
DIST=${CONVPAINT_DIST:-}
if [ -z "$DIST" ]; then
  DIST="$WORK/dist"
  bash scripts/build_dists.sh "$DIST" >/dev/null
fi
built=$(date +%s)
echo "install_check: wheels and sdists in $DIST ($((built - start)) s)"
[ "$#" -gt 0 ] || set -- vgg
for EXTRAS in "$@"; do
(
begin=$(date +%s)
rm -rf "$WORK/venv" "$WORK/demo" "$WORK/extractors.txt"
"$PY" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
if ! "$VPY" -m pip install -q --disable-pip-version-check -c .ci/constraints.txt \
  --find-links "$DIST" "convpaint[$EXTRAS]==$VERSION" >"$WORK/pip.log" 2>&1; then
  grep -v "^WARNING: Location" "$WORK/pip.log" >&2 || true
  echo "install_check: pip install convpaint[$EXTRAS] failed" >&2
  exit 1
fi
grep -v "^WARNING: Location" "$WORK/pip.log" || true
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
case ",$EXTRAS," in *,all,*) want="$want dinov2 uni cellpose efficientnet convnext" ;; esac
case ",$EXTRAS," in *,timm,*) want="$want efficientnet convnext" ;; esac
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
case ",$EXTRAS," in *,timm,*|*,all,*)  # timm CNNs: train and segment
  "$VPY" -c "
import warnings; warnings.simplefilter(\"ignore\")
import numpy as np, convpaint
rng = np.random.default_rng(0)
img = rng.random((64, 64), dtype=np.float32); ann = np.zeros((64, 64), np.uint8)
ann[5, 5:20], ann[40, 30:50] = 1, 2
for name in ('efficientnet', 'convnext'):
    m = convpaint.ConvpaintModel(name, weights='random', layers=[0], n_estimators=5).train(img, ann)
    assert m.segment(img).shape == img.shape
print('efficientnet, convnext (random weights): train + segment OK')
" ;;
esac
end=$(date +%s)
echo "install_check: convpaint[$EXTRAS]==$VERSION from built wheels OK" \
  "(venv + install $((installed - begin)) s, total $((end - begin)) s)"
)
done
