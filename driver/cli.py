"""The `sparsec` command line: one sub-command per module in ``commands/``.

Every command turns bad input into a one-line ``error: ...`` on stderr and a
non-zero exit; a traceback means a bug in sparsec. A missing optional package
(torch, TVM, matplotlib: see the extras of pyproject.toml) is one line too,
naming the extra that installs it.
"""

from __future__ import annotations

import importlib
import sys

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

app = typer.Typer(
    name="sparsec",
    help="An ahead-of-time compiler for sparse transformer inference on CPUs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: Rich's option table is unreadable in 80 columns
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

# Optional packages by import name -> the extra of pyproject.toml that installs them.
OPTIONAL_PACKAGES: dict[str, str] = {
    "torch": "frontend", "transformers": "frontend", "safetensors": "frontend",
    "tvm": "codegen", "tvm_ffi": "codegen", "psutil": "codegen",
    "matplotlib": "plot",
    "onnxruntime": "bench", "onnx": "bench",
}

# Metavars of number options that do not name their own, by the value's Python type.
TYPE_METAVARS: dict[str, str] = {"int": "N", "float": "NUMBER"}


class _PlainArgument(TyperArgument):
    """An argument shown as ``MODEL`` in usage and help (Typer 0.29 prints ``{model} <str>``)."""

    def get_usage_pieces(self, ctx: typer.Context) -> list[str]:
        name = self.metavar or self.name or ""
        return [name if self.required else f"[{name}]"]

    def display_type_rich(self, ctx: typer.Context) -> str | None:
        return None


def _option_metavar(option: TyperOption) -> str:
    """``--threads N``, ``--target TARGET``: the value's type for numbers, else its name."""
    typename = option.bare_type().removeprefix("list[").removesuffix("]")
    return TYPE_METAVARS.get(typename, (option.name or "value").strip("_").upper())


def readable_help(command: TyperCommand | TyperGroup) -> None:
    """Name every value as a man page would (``MODEL``, ``--threads N``), never ``<bool>``, and
    list each command with its whole first help line, not one cut off with "..."."""
    for sub in getattr(command, "commands", {}).values():
        readable_help(sub)
        if sub.help and not sub.short_help:
            sub.short_help = sub.help.strip().splitlines()[0]
    for param in command.params:
        if isinstance(param, TyperArgument):
            param.metavar = param.metavar or (param.name or "value").upper()
            param.__class__ = _PlainArgument  # same fields, two display methods differ
        elif isinstance(param, TyperOption) and not param.is_flag:
            param.metavar = param.metavar or _option_metavar(param)
            if param.show_default is True and "," in str(param.default):
                # "(1x1, 2x1, ...)": click wraps a long default at spaces, else inside "1x16"
                param.show_default = str(param.default).replace(",", ", ")


def build_command() -> TyperGroup:
    """The click command of the whole CLI, every sub-command registered, with readable help."""
    if not app.registered_commands:
        for name in COMMAND_MODULES:
            importlib.import_module(f"sparsec.commands.{name}").register(app)
    command = typer.main.get_command(app)
    readable_help(command)
    return command


def _command_name(args: list[str], command: TyperGroup) -> str:
    """The sub-command named in ``args`` (the first word that is one), for messages."""
    return next((arg for arg in args if arg in command.commands), "")


def missing_package_error(err: ModuleNotFoundError, command: str) -> str | None:
    """The one-line error for an optional package that is not installed, else ``None``."""
    extra = OPTIONAL_PACKAGES.get(err.name or "")
    if extra is None:
        return None  # a module of an installed package, or not an optional one: a bug
    where = f"sparsec {command}".strip()
    return f'error: {where} needs {err.name}: pip install "sparsec[{extra}]"'


def main() -> None:
    """Run the command line; exit 0, 1 (an ``error:`` line) or 2 (a usage error)."""
    command = build_command()
    try:
        status = command.main(prog_name="sparsec", standalone_mode=False)
    except typer.exceptions.TyperException as err:  # a usage error: bad option, no argument
        where = getattr(getattr(err, "ctx", None), "command_path", "sparsec")
        message = err.format_message() if hasattr(err, "format_message") else str(err)
        if type(err).__name__ == "NoArgsIsHelpError":  # `sparsec` alone: its message is the help
            print(message)
        elif message:
            print(f"error: {where}: {message} (see '{where} --help')", file=sys.stderr)
        sys.exit(2)
    except ModuleNotFoundError as err:
        message = missing_package_error(err, _command_name(sys.argv[1:], command))
        if message is None:
            raise
        print(message, file=sys.stderr)
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
