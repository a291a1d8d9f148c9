"""``python -m convpaint_timm download|path [NAME ...]``: fetch or locate the ImageNet weights."""

from __future__ import annotations

import argparse

from .extractor import ConvNeXtTinyFeatures, EfficientNetB0Features
from .weights import cached_file, hub_file, repo_cache_folder

EXTRACTORS = {c.name: c for c in (EfficientNetB0Features, ConvNeXtTinyFeatures)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convpaint_timm", description=__doc__)
    parser.add_argument("command", choices=["download", "path"])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(EXTRACTORS))
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in EXTRACTORS]
    if unknown:
        parser.error(f"unknown extractor {unknown[0]!r}; choose among {', '.join(EXTRACTORS)}")
    for name in args.names or list(EXTRACTORS):
        repo = EXTRACTORS[name].hub_repo
        if args.command == "download":
            print(f"{name}: {hub_file(repo)}")
        else:
            found = cached_file(repo)
            where = f"{found} (present)" if found else f"{repo_cache_folder(repo)} (missing)"
            print(f"{name}: {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
