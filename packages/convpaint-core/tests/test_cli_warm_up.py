"""``convpaint warm-up`` (convpaint.cli_warm_up)."""

import argparse

import pytest

from convpaint import cli_warm_up


def test_warm_up_runs_the_extractor_once(capsys):
    assert cli_warm_up.main(["--extractor", "raw"]) == 0
    out = capsys.readouterr().out
    assert "tiny raw run" in out
    assert out.strip().splitlines()[-1].startswith("warm-up: done in ")


def test_warm_up_without_an_extractor_loads_the_kernels(capsys):
    assert cli_warm_up.main([]) == 0
    assert "warm-up: done in" in capsys.readouterr().out


def test_an_unknown_extractor_fails_before_any_work(capsys):
    with pytest.raises((KeyError, ValueError), match="no-such-extractor"):
        cli_warm_up.main(["--extractor", "no-such-extractor"])
    assert "warm-up: done" not in capsys.readouterr().out


def test_add_parser_registers_the_subcommand():
    parser = argparse.ArgumentParser(prog="convpaint")
    cli_warm_up.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["warm-up", "-e", "raw", "-e", "ilastik"])
    assert args.command == "warm-up" and args.extractor == ["raw", "ilastik"]
    assert args.func is cli_warm_up.cmd_warm_up
