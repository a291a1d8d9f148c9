"""The one version number of every Convpaint package lives in ``VERSION``.

    python scripts/set_version.py            # check: every pyproject matches VERSION
    python scripts/set_version.py 0.2.0      # write 0.2.0 to VERSION and every pyproject

Every package's version and the monorepo's own pins (``convpaint-core==X`` in the
plugins, ``convpaint-vgg==X`` in the ``convpaint`` meta-package) equal it; the
packages' ``__version__`` attributes read their installed metadata.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
_VERSION_LINE = re.compile(r'^(version\s*=\s*")([^"]+)(")', re.M)
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)")


def pyprojects() -> list[Path]:
    """The meta-package's pyproject and one per directory under packages/."""
    return [ROOT / "pyproject.toml", *sorted(ROOT.glob("packages/*/pyproject.toml"))]


def monorepo_names() -> set[str]:
    return {tomllib.loads(p.read_text())["project"]["name"] for p in pyprojects()}


def read_version() -> str:
    return (ROOT / "VERSION").read_text().strip()


def internal_requirements(path: Path) -> list[tuple[str, str, str, str]]:
    """(requirement string, name, extras, specifier) of the monorepo's own packages."""
    project = tomllib.loads(path.read_text())["project"]
    reqs = list(project.get("dependencies", []))
    for group in project.get("optional-dependencies", {}).values():
        reqs += group
    names = monorepo_names()
    out = []
    for req in reqs:
        name, extras, spec = _NAME.match(req).groups()
        if name.lower().replace("_", "-") in names:
            out.append((req, name, extras or "", spec.strip()))
    return out


def problems(version: str) -> list[str]:
    """Versions and internal pins that differ from ``version``."""
    out = []
    for path in pyprojects():
        rel = path.relative_to(ROOT)
        found = tomllib.loads(path.read_text())["project"].get("version")
        if found != version:
            out.append(f"{rel}: version {found!r} != {version}")
        for req, _name, _extras, spec in internal_requirements(path):
            if spec != f"=={version}":
                out.append(f"{rel}: {req!r} should pin =={version}")
    return out


def write_version(version: str) -> None:
    if not re.fullmatch(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?", version):
        raise SystemExit(f"not a PEP 440 version: {version!r}")
    (ROOT / "VERSION").write_text(version + "\n")
    for path in pyprojects():
        text = path.read_text()
        reqs = internal_requirements(path)
        text = _VERSION_LINE.sub(lambda m: f"{m[1]}{version}{m[3]}", text, count=1)
        for req, name, extras, _spec in reqs:
            text = text.replace(f'"{req}"', f'"{name}{extras}=={version}"')
        path.write_text(text)


def main(argv: list[str]) -> int:
    if argv:
        write_version(argv[0])
    version = read_version()
    bad = problems(version)
    for line in bad:
        print(f"set_version: {line}", file=sys.stderr)
    if not bad:
        print(f"convpaint {version}: {len(pyprojects())} pyproject files agree")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
