"""The samsyn command as a newcomer meets it: help to act on, a version, one-line errors."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from api import __version__, cli
from api.integrity_cli import proof
from ledger.application import Ledger
from ledger.settings import Settings
from tests.ledger.world import world


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"samsyn {__version__}"
    assert __version__[0].isdigit()


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = sub
                found.update({f"{name} {k}": v for k, v in _subcommands(sub).items()})
    return found


def test_the_top_help_lists_every_command_with_a_line_of_help() -> None:
    parser = cli.build_parser()
    text = parser.format_help()
    commands = [name for name in _subcommands(parser) if " " not in name]
    assert commands and all(name in text for name in commands)
    assert "`" not in text and "First steps:" in text


def test_every_option_and_argument_says_what_it_is_for() -> None:
    unexplained = [
        f"{name}: {'/'.join(action.option_strings) or action.dest}"
        for name, sub in _subcommands(cli.build_parser()).items()
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and not action.help
    ]
    assert unexplained == []


def test_a_busy_port_is_one_line_before_anything_says_ready(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "api.cli", "serve", "--no-demo", "--port", str(port)],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
            env={"SAMSYN_DATABASE_URL": f"sqlite:///{tmp_path / 'l.sqlite3'}",
                 "PATH": "/usr/bin:/bin"},
        )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot listen on 127.0.0.1:{port}" in lines[0]
    assert "samsyn ready" not in result.stderr


def test_a_proof_of_a_position_beyond_the_head_says_so(
    ledger: Ledger, store: tuple[Settings, str | None], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, schema = store
    world(ledger)
    head = ledger.max_position()
    args = argparse.Namespace(kind="inclusion", position=head + 900, tree_size=None)
    assert proof(args, settings=settings, schema=schema) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"samsyn: no entry at position {head + 900}: the ledger holds positions 1 "
                   f"to {head}"]
