"""`sparsec opt`: run a pass pipeline on IR text, as `mlir-opt` does.

    sparsec opt model.mlir -p "canonicalize,cse,dce" -o out.mlir
    sparsec opt cases.mlir -p canonicalize --split-input-file | filecheck cases.mlir
    sparsec opt --list-passes
    sparsec opt invalid.mlir --split-input-file --verify-diagnostics

The output module records the passes run on it (the ``sparsec.pipeline``
attribute, appended to), so that ``sparsec compile`` does not run them again.
Errors print as ``error: ...`` (a located one as ``error: file:line:col: ...``
with the line and a caret) and exit with status 1. With ``--verify-diagnostics``
the errors must be the ones the input's ``// expected-error {{...}}`` comments
announce instead (see ``sparsec.ir.diagnostics.expected_diagnostics``): each
one missing or unexpected is printed, and only then is the exit status 1.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from sparsec.atomic import current_umask
from sparsec.compiler import record_pipeline
from sparsec.errors import UserError, format_error, reported_errors
from sparsec.ir.diagnostics import SparsecError, expected_diagnostics, unmatched_diagnostics
from sparsec.ir.parser import parse_module
from sparsec.ir.printer import print_op
from sparsec.passes import (
    Pass,
    PassManager,
    TimingReport,
    list_passes_text,
    parse_pipeline,
    registered_passes,
)

SPLIT_MARKER = "// -----"


@dataclass
class OptSettings:
    """Everything that says how to process one input (or one split of it)."""

    passes: list[Pass]
    verify: bool
    print_ir_after_all: bool
    print_ir_after: frozenset[str]
    elide_resources: bool
    timing: TimingReport
    verify_diagnostics: bool = False


def split_input(text: str) -> list[str]:
    """Cases separated by ``// -----`` lines, each padded with newlines to keep its line numbers."""
    cases, current, first_line = [], [], 0
    for number, line in enumerate(text.splitlines(keepends=True)):
        if line.strip() == SPLIT_MARKER:
            cases.append("\n" * first_line + "".join(current))
            current, first_line = [], number + 1
        else:
            current.append(line)
    cases.append("\n" * first_line + "".join(current))
    return cases


def process(text: str, filename: str, settings: OptSettings) -> str:
    """Parse, run the pipeline and print; raises on bad input (see ``run_opt``)."""
    with settings.timing.measure("Parser"):
        module = parse_module(text, filename, verify=settings.verify)
    PassManager(
        settings.passes,
        verify_each=settings.verify,
        print_ir_after_all=settings.print_ir_after_all,
        print_ir_after=settings.print_ir_after,
        timing=settings.timing,
    ).run(module)
    record_pipeline(module, settings.passes)  # 'sparsec compile' does not run them again
    with settings.timing.measure("Output"):
        return print_op(module, elide_resources=settings.elide_resources).rstrip("\n")


def run_opt(text: str, filename: str, settings: OptSettings, split: bool) -> tuple[str, bool]:
    """The output of every case that succeeded, and whether any failed.

    A failing case prints its diagnostic to stderr; with ``split`` the other
    cases still run, so one run reports every failing case. With
    ``settings.verify_diagnostics`` a case fails only when its errors differ
    from those its annotations expect.
    """
    outputs, failed = [], False
    for case in split_input(text) if split else [text]:
        errors = []
        try:
            outputs.append(process(case, filename, settings))
        except SparsecError as err:
            errors.append(err)
        problems = (unmatched_diagnostics(filename, expected_diagnostics(case), errors)
                    if settings.verify_diagnostics else errors)
        for problem in problems:
            print(format_error(problem), file=sys.stderr)
        failed = failed or bool(problems)
    output = f"\n{SPLIT_MARKER}\n".join(outputs) + "\n" if outputs else ""
    return output, failed


def read_input(path: str) -> tuple[str, str]:
    """The text of ``path`` (``-`` is stdin) and the name diagnostics use for it."""
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    try:
        return Path(path).read_text(encoding="utf-8"), path
    except FileNotFoundError:
        raise UserError(f"cannot read '{path}': no such file") from None
    except UnicodeDecodeError:
        raise UserError(f"cannot read '{path}': not UTF-8 text") from None
    except OSError as err:
        raise UserError(f"cannot read '{path}': {err.strerror}") from None


def write_atomically(path: str, text: str) -> None:
    """Write via a temporary file in the same folder and rename: never a half-written file."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, temp = tempfile.mkstemp(prefix=".sparsec-opt-", suffix=".tmp", dir=folder)
    except OSError as err:
        raise UserError(f"cannot write '{path}': {err.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(fd, 0o666 & ~current_umask())  # as open() would make it, not mkstemp's 0600
            out.write(text)
        os.replace(temp, path)
    except OSError as err:
        os.unlink(temp)
        raise UserError(f"cannot write '{path}': {err.strerror}") from None


def _checked_dump_names(names: list[str]) -> frozenset[str]:
    known = [cls.name for cls in registered_passes()]
    for name in names:
        if name not in known:
            raise UserError(f"--print-ir-after: unknown pass '{name}' (known passes: "
                            f"{', '.join(known)})")
    return frozenset(names)


def opt(
    file: Annotated[str, typer.Argument(help="Input IR file; '-' reads stdin.")] = "-",
    pass_pipeline: Annotated[
        str, typer.Option("-p", "--pass-pipeline", help="Passes to run, e.g. 'canonicalize,cse'.")
    ] = "",
    output: Annotated[
        str | None, typer.Option("-o", help="Output file (written atomically); default stdout.")
    ] = None,
    split_input_file: Annotated[
        bool, typer.Option("--split-input-file", help="Process each '// -----' case on its own.")
    ] = False,
    print_ir_after_all: Annotated[
        bool, typer.Option("--print-ir-after-all", help="Dump the IR after every pass (stderr).")
    ] = False,
    print_ir_after: Annotated[
        list[str] | None,
        typer.Option("--print-ir-after", help="Dump the IR after this pass (repeatable)."),
    ] = None,
    pass_timing: Annotated[
        bool, typer.Option("--pass-timing", help="Print wall time per pass (stderr).")
    ] = False,
    list_passes: Annotated[
        bool, typer.Option("--list-passes", help="List the passes and their options, then exit.")
    ] = False,
    elide_resources: Annotated[
        bool, typer.Option("--elide-resources", help="Print weights as elided resources.")
    ] = False,
    no_verify: Annotated[
        bool, typer.Option("--no-verify", help="Skip verifying the input and after each pass.")
    ] = False,
    verify_diagnostics: Annotated[
        bool, typer.Option("--verify-diagnostics",
                           help="Check the errors against the input's expected-error comments.")
    ] = False,
) -> None:
    """Run a pass pipeline on IR text and print the result (like mlir-opt)."""
    if list_passes:
        print(list_passes_text())
        return
    with reported_errors():
        settings = OptSettings(
            passes=parse_pipeline(pass_pipeline),
            verify=not no_verify,
            print_ir_after_all=print_ir_after_all,
            print_ir_after=_checked_dump_names(print_ir_after or []),
            elide_resources=elide_resources,
            timing=TimingReport(),
            verify_diagnostics=verify_diagnostics,
        )
        text, filename = read_input(file)
        result, failed = run_opt(text, filename, settings, split_input_file)
        if pass_timing:
            print(settings.timing.format(), file=sys.stderr)
        if output is None:
            sys.stdout.write(result)
        elif not failed:  # a file on disk is all or nothing
            write_atomically(output, result)
        if failed:
            raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the `opt` command to the CLI."""
    app.command("opt")(opt)
