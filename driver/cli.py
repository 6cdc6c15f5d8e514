"""The `sparsec` command line: one sub-command per module in ``commands/``.

Every command turns bad input into a one-line ``error: ...`` on stderr and a
non-zero exit; a traceback means a bug in sparsec.
"""

from __future__ import annotations

import importlib
import sys

import typer

app = typer.Typer(
    name="sparsec",
    help="An ahead-of-time compiler for sparse transformer inference on CPUs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """An ahead-of-time compiler for sparse transformer inference on CPUs."""
    # Without a callback, Typer runs a lone command as the whole app (`sparsec FILE`).


# Each module defines `register(app)`; listed in the order `--help` shows them.
COMMAND_MODULES: list[str] = [
    "demo", "import_model", "opt", "analyze", "prune", "compile", "run", "bench",
    "calibrate",
]


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"sparsec.commands.{name}").register(app)


def main() -> None:
    _register_commands()
    try:
        status = app(prog_name="sparsec", standalone_mode=False)
    except typer.exceptions.TyperException as err:  # a usage error: bad option, missing argument
        where = getattr(getattr(err, "ctx", None), "command_path", "sparsec")
        message = err.format_message() if hasattr(err, "format_message") else str(err)
        if message:  # empty when the help was shown instead (no arguments at all)
            print(f"error: {where}: {message} (see '{where} --help')", file=sys.stderr)
        sys.exit(2)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
