"""`dsr` starts fast: importing the command line imports nothing heavy, and `dsr --help` lists
every command, lazily registered or not, with the help the command itself gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from dsr.cli import DEFAULT_DEMO_URL, main
from dsr.commands import DeskGroup
from dsr.config import DEFAULTS

ROOT = Path(__file__).parents[1]
HEAVY = ("flask", "sqlalchemy", "sqlmodel", "reportlab", "argon2", "faker", "babel", "inventory")


def _help_in_a_fresh_process(*args: str) -> str:
    """`dsr ARGS --help` in a new interpreter, where no lazy command has been imported yet."""
    result = subprocess.run(
        [sys.executable, "-c", "from dsr.cli import main; main(prog_name='dsr')", *args, "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={"COLUMNS": "80", "PATH": ""},
    )
    return result.stdout


def _load_every_command(group: click.Group) -> None:
    with click.Context(group) as context:
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            if isinstance(command, click.Group):
                _load_every_command(command)


def test_importing_the_command_line_imports_nothing_heavy() -> None:
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, dsr.cli; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert [name for name in HEAVY if name in shown] == []


_FULL_HELP = """
import click
from click.testing import CliRunner
from dsr.cli import main

def load(group):
    with click.Context(group) as context:
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            if isinstance(command, click.Group):
                load(command)

load(main)
for args in (["--help"], ["request", "--help"]):
    shown = CliRunner().invoke(main, args, prog_name="dsr", terminal_width=78).output
    print(shown, end="\\0")
"""


def test_help_lists_every_command_with_its_own_help() -> None:
    lazy_help = _help_in_a_fresh_process()
    lazy_request_help = _help_in_a_fresh_process("request")
    # Click's own listing with every command imported, in a fresh interpreter too: click
    # remembers a command's help option once shown, so other tests of this process would leak in.
    full_help, full_request_help, _ = subprocess.run(
        [sys.executable, "-c", _FULL_HELP],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={"COLUMNS": "80", "PATH": ""},
    ).stdout.split("\0")
    assert lazy_help == full_help
    assert lazy_request_help == full_request_help
    for name in ("api", "audit", "db", "demo", "map", "outbox", "request", "retention"):
        assert f"\n  {name} " in lazy_help
    assert "scheduler" in lazy_help and "staff" in lazy_help and "subject" in lazy_help


def test_every_lazy_entry_names_a_command() -> None:
    groups: list[click.Group] = [main]
    while groups:
        group = groups.pop()
        if not isinstance(group, DeskGroup):
            continue
        with click.Context(group) as context:
            for name in group.lazy_commands:
                command = group.get_command(context, name)
                assert isinstance(command, click.Command), name
                if isinstance(command, click.Group):
                    groups.append(command)


def test_the_demo_help_shows_the_default_the_settings_use() -> None:
    assert DEFAULTS["DEMO_PLATFORM_URL"] == DEFAULT_DEMO_URL
