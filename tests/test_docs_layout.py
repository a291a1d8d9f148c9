"""The README's layout section matches the tree, and its tile-size figure matches the code.

The layout is the fenced block under ``## Layout``: a line at column 0 names a folder
(``packages/convpaint-core/src/convpaint/``); indented lines (two spaces per level) name
a module or a sub-folder of the folder above, then its description.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


class LayoutError(ValueError):
    """The layout section is missing or malformed (names the line)."""


def parse_layout(text: str) -> dict[str, str]:
    """``{path relative to the repository: description}`` of the README's layout block."""
    match = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if match is None:
        raise LayoutError("README has no '## Layout' section")
    block = re.search(r"^```[^\n]*\n(.*?)^```", match.group(1), re.M | re.S)
    if block is None:
        raise LayoutError("the '## Layout' section has no fenced block")
    entries: dict[str, str] = {}
    root = ""
    stack: list[str] = []
    for line in block.group(1).splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        name, _, description = line.strip().partition(" ")
        if indent % 2:
            raise LayoutError(f"odd indentation (use two spaces per level): {line!r}")
        level = indent // 2
        if level == 0:
            if not name.endswith("/"):
                raise LayoutError(f"a line at column 0 must name a folder: {line!r}")
            root, stack, path = name, [], name
        elif not root or level > len(stack) + 1:
            raise LayoutError(f"indented deeper than the folder above it: {line!r}")
        else:
            del stack[level - 1 :]
            path = root + "".join(stack) + name
            if name.endswith("/"):
                stack.append(name)
        if path in entries:
            raise LayoutError(f"{path} is listed twice")
        entries[path] = description.strip()
    return entries


def package_modules(root: Path) -> set[str]:
    """Every module of every package ``packages/*/src/<package>/`` (sub-packages included)."""
    modules = set()
    for init in root.glob("packages/*/src/*/__init__.py"):
        for module in init.parent.rglob("*.py"):
            if "__pycache__" not in module.parts:
                modules.add(module.relative_to(root).as_posix())
    return modules


def compare(entries: dict[str, str], root: Path) -> tuple[list[str], list[str], list[str]]:
    """(modules not listed, listed paths not in the tree, listed modules without description)."""
    listed = {p for p in entries if p.endswith(".py")}
    missing = sorted(package_modules(root) - listed)
    absent = sorted(p for p in entries if not (root / p).exists())
    undescribed = sorted(p for p, d in entries.items() if p.endswith(".py") and not d)
    return missing, absent, undescribed


def test_readme_layout_lists_every_module_and_nothing_else() -> None:
    missing, absent, undescribed = compare(parse_layout(README.read_text()), ROOT)
    assert not missing, f"README '## Layout' misses these modules (add a line each): {missing}"
    assert not absent, f"README '## Layout' lists paths that do not exist: {absent}"
    assert not undescribed, f"README '## Layout' lines without a description: {undescribed}"


def _tree(tmp_path: Path, files: list[str]) -> Path:
    for name in files:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('"""A module."""\n')
    return tmp_path


LAYOUT = """# x

## Layout

```
packages/p/src/p/
  __init__.py   the API
  a.py          first
  sub/          a sub-package
    __init__.py the sub-package
    b.py        second
tests/          tests
```

## Next
"""


def test_compare_reports_unlisted_and_absent_modules(tmp_path: Path) -> None:
    files = ["packages/p/src/p/__init__.py", "packages/p/src/p/a.py", "tests/t.py"]
    files += ["packages/p/src/p/sub/__init__.py", "packages/p/src/p/sub/b.py"]
    root = _tree(tmp_path, files)
    entries = parse_layout(LAYOUT)
    assert entries["packages/p/src/p/sub/b.py"] == "second"
    assert compare(entries, root) == ([], [], [])

    _tree(tmp_path, ["packages/p/src/p/new.py", "packages/q/src/q/__init__.py"])
    (tmp_path / "packages/p/src/p/a.py").unlink()
    missing, absent, _ = compare(entries, root)
    assert missing == ["packages/p/src/p/new.py", "packages/q/src/q/__init__.py"]
    assert absent == ["packages/p/src/p/a.py"]

    _, _, undescribed = compare(
        parse_layout(LAYOUT.replace("  a.py          first", "  a.py")), root
    )
    assert undescribed == ["packages/p/src/p/a.py"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("# no layout\n", "no '## Layout' section"),
        ("## Layout\n\nprose only\n", "no fenced block"),
        ("## Layout\n```\n  a.py  orphan\n```\n", "deeper than the folder"),
        ("## Layout\n```\nd/\n   a.py  three spaces\n```\n", "odd indentation"),
        ("## Layout\n```\na.py  a module at column 0\n```\n", "must name a folder"),
        ("## Layout\n```\nd/\n  a.py  x\n  a.py  y\n```\n", "d/a.py is listed twice"),
    ],
)
def test_malformed_layout_is_refused_naming_the_line(text: str, problem: str) -> None:
    with pytest.raises(LayoutError, match=re.escape(problem)):
        parse_layout(text)


def test_readme_tile_size_figure_matches_the_code() -> None:
    """README: "e.g. N px for the 56 `ilastik` features" is the prediction tile of the code."""
    import convpaint

    match = re.search(r"(\d+) px for the (\d+) `ilastik` features", README.read_text())
    assert match, "README no longer states the ilastik tile size"
    model = convpaint.ConvpaintModel("ilastik", n_estimators=2)
    image = np.random.default_rng(0).random((32, 32), dtype=np.float32)
    scribbles = np.zeros((32, 32), np.uint8)
    scribbles[2:6, 2:12], scribbles[20:24, 10:30] = 1, 2
    model.train(image, scribbles)
    assert model.n_features_ == int(match.group(2))
    plan = model.planner.plan((4096, 4096), training=False, n_features=model.n_features_)
    assert plan.grid.tile == int(match.group(1))
