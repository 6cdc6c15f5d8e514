"""`sparsec COMMAND --help` reads well in an 80-column terminal: values named as a man page
names them (MODEL, --threads N), no Python types (<bool>, <str>), nothing cut off."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from typer.core import TyperOption

from sparsec.cli import build_command

WIDTH = 80
COMMAND = build_command()
PYTHON_TYPES = re.compile(r"<(bool|str|int|float|list\[str\])>|list\[|\{")


def help_text(*args: str) -> str:
    """The help as a user sees it: the installed entry point, COLUMNS=80."""
    done = subprocess.run([sys.executable, "-m", "sparsec.cli", *args, "--help"],
                          capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": str(WIDTH)})
    assert done.returncode == 0 and not done.stderr, done.stderr
    return done.stdout


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("name", sorted(COMMAND.commands))
def test_command_help_is_readable_at_80_columns(name):
    text = help_text(name)
    lines = text.splitlines()
    assert all(len(line) <= WIDTH for line in lines), max(lines, key=len)
    assert not PYTHON_TYPES.search(text), PYTHON_TYPES.search(text).group()
    assert "…" not in text and "..." not in text.replace("RxC,...", "")  # nothing cut off
    command = COMMAND.commands[name]
    arguments = [p.name.upper() for p in command.params if not isinstance(p, TyperOption)]
    usage = f"Usage: sparsec {name} [OPTIONS]"
    assert lines[0] in {f"{usage} {' '.join(arguments)}".strip(),
                        f"{usage} [{' '.join(arguments)}]"}, lines[0]
    for option in command.params:
        if isinstance(option, TyperOption) and not option.is_flag and option.default is not None:
            default = str(option.default).replace(",", ", ")
            assert squeeze(default) in squeeze(text), (option.opts, default)
            assert re.search(rf" {re.escape(option.metavar)}\s", text), option.opts


def test_the_command_list_shows_whole_descriptions():
    text = help_text()
    assert "Commands:" in text and "..." not in text.split("Commands:")[1]
    for name, command in COMMAND.commands.items():
        first_line = command.help.strip().splitlines()[0]
        assert squeeze(first_line) in squeeze(text), name


def test_flags_take_no_value_and_values_are_named():
    options = {opt: p for p in COMMAND.commands["compile"].params if isinstance(p, TyperOption)
               for opt in p.opts}
    text = help_text("compile")
    assert re.search(r"^  --no-sparsity +Keep", text, re.MULTILINE)
    assert re.search(r"^  --threads N +Threads", text, re.MULTILINE)
    assert re.search(r"^  -o, --output DIR +Artifact", text, re.MULTILINE)
    assert options["--threads"].metavar == "N"
