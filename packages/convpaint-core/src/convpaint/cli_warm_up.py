"""``convpaint warm-up``: pay the first call's costs now (compiled kernels, imports, an
extractor's first run), e.g. after installing or in a container's build step.

:func:`convpaint.demo.warm_up` does the work: it loads (and on the first run compiles
and caches on disk) the numba kernels, imports scikit-learn-intelex when it fits the
forests and, with ``--extractor NAME``, trains and segments a 48 x 48 crop of coins
with that extractor.  Prints the seconds of each step.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``warm-up`` in the subcommands ``sub`` of the convpaint parser."""
    p = sub.add_parser(
        "warm-up",
        help="compile and load what the first train/segment would pay for",
        description=__doc__.splitlines()[0],
    )
    p.add_argument(
        "--extractor",
        "-e",
        action="append",
        metavar="NAME",
        help="also run this extractor once on a tiny image (repeatable)",
    )
    p.set_defaults(func=cmd_warm_up)
    return p


def cmd_warm_up(args: argparse.Namespace) -> int:
    """Warm up, then print one line per step and the total."""
    from .demo import warm_up
    from .registry import get_extractor

    names = args.extractor or []
    for name in names:  # an unknown name fails before any work, naming what is installed
        get_extractor(name)
    t = time.perf_counter()
    steps: dict[str, float] = {}
    for name in names or [None]:
        steps.update(warm_up(name))
    total = time.perf_counter() - t
    for step, seconds in steps.items():
        print(f"  {step:<28} {seconds:6.2f} s")
    print(f"warm-up: done in {total:.2f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m convpaint.cli_warm_up [--extractor NAME]`` (the same as the subcommand)."""
    parser = argparse.ArgumentParser(prog="convpaint")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["warm-up", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
