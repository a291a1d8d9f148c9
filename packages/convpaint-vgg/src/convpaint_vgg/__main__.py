"""``python -m convpaint_vgg download|path``: fetch or locate the ImageNet checkpoint."""

from __future__ import annotations

import argparse

from .weights import default_weights_path, download_weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convpaint_vgg", description=__doc__)
    parser.add_argument("command", choices=["download", "path"])
    args = parser.parse_args(argv)
    if args.command == "download":
        print(download_weights())
    else:
        path = default_weights_path()
        print(f"{path} ({'present' if path.is_file() else 'missing'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
