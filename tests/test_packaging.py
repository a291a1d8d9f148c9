"""One version for every package, internal pins that follow it, py.typed everywhere.

The install from built wheels itself runs in scripts/install_check.sh (CI: scripts/test.sh).
"""

import importlib.util
import sys
from pathlib import Path

import pytest

import convpaint

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p.parent for p in ROOT.glob("packages/*/pyproject.toml"))


def _set_version():
    spec = importlib.util.spec_from_file_location("set_version", ROOT / "scripts/set_version.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["set_version"] = module
    spec.loader.exec_module(module)
    return module


def test_one_version_and_pins():
    sv = _set_version()
    version = sv.read_version()
    assert sv.problems(version) == []
    assert sv.problems("9.9.9")  # the check can fail
    assert convpaint.__version__ == version


def test_meta_package_offers_every_package():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = " ".join(meta["dependencies"] + sum(meta["optional-dependencies"].values(), []))
    for pkg in PACKAGES:
        name = tomllib.loads((pkg / "pyproject.toml").read_text())["project"]["name"]
        assert f"{name}==" in reqs, f"the convpaint meta-package does not offer {name}"


@pytest.mark.parametrize("pkg", PACKAGES, ids=[p.name for p in PACKAGES])
def test_py_typed_shipped(pkg):
    project = tomllib.loads((pkg / "pyproject.toml").read_text())
    modules = [d for d in (pkg / "src").iterdir() if (d / "__init__.py").is_file()]
    assert modules, pkg
    for module in modules:
        assert (module / "py.typed").is_file(), module
        data = project["tool"]["setuptools"].get("package-data", {}).get(module.name, [])
        assert "py.typed" in data, f"{pkg.name}: py.typed not in package-data"


def test_changelog_names_the_release_process():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "VERSION" in text and "## Unreleased" in text
