"""`sparsec import`: print the sparsec IR of a model.

    sparsec import path/to/hf-model --seq-len 128 -o bert.mlir
    sparsec import model.pt2 --elide-resources          # weights elided: for reading
    sparsec import traced.pt                            # a TorchScript archive (torch.jit.save)
    sparsec import pickled.pt --allow-pickle            # runs the file's code: trusted files only

With the weights included the output is complete: ``sparsec opt`` (or any
MLIR parser) reloads it and the interpreter gives the model's outputs. Bad
input is one ``error: ...`` line and exit status 1.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.status import Status

from sparsec.commands.opt import write_atomically
from sparsec.errors import reported_errors
from sparsec.ir.core import Operation
from sparsec.options import (
    AllowMissingWeightsOption,
    AllowPickleOption,
    BatchOption,
    ModelArgument,
    SeqLenOption,
    size_value,
)

STAGES = {
    "loading": "Loading the model",
    "parsing": "Parsing the IR",
    "tracing": "Tracing with torch.export",
    "translating": "Translating ATen to sparsec",
}


def import_with_status(model: str, status: Status, *, batch: int | tuple[int, int] | None,
                       seq_len: int | tuple[int, int] | None, allow_pickle: bool,
                       allow_missing_weights: bool = False) -> Operation:
    """Import ``model`` with the frontend, showing each stage on a rich ``status``."""
    # Imported here: torch takes seconds to load and other commands do not need it.
    from sparsec.frontend import import_model

    def show(stage: str) -> None:
        status.update(STAGES.get(stage, stage) + "...")

    return import_model(model, batch=batch, seq_len=seq_len, allow_pickle=allow_pickle,
                        allow_missing_weights=allow_missing_weights, progress=show)


def import_command(
    model: ModelArgument,
    output: Annotated[
        str | None, typer.Option("-o", help="Output file (written atomically); default stdout.")
    ] = None,
    elide_resources: Annotated[
        bool, typer.Option("--elide-resources", help="Print weights as elided resources.")
    ] = False,
    batch: BatchOption = None,
    seq_len: SeqLenOption = None,
    allow_pickle: AllowPickleOption = False,
    allow_missing_weights: AllowMissingWeightsOption = False,
) -> None:
    """Import a model and print its sparsec IR."""
    console = Console(stderr=True)
    with reported_errors():
        from sparsec.ir.printer import print_op

        with console.status("Starting") as status:
            module = import_with_status(model, status, batch=size_value(batch),
                                        seq_len=size_value(seq_len),
                                        allow_pickle=allow_pickle,
                                        allow_missing_weights=allow_missing_weights)
            status.update("Printing the IR...")
            text = print_op(module, elide_resources=elide_resources)
        text = text if text.endswith("\n") else text + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            write_atomically(output, text)


def register(app: typer.Typer) -> None:
    """Add the `import` command to the CLI."""
    app.command("import")(import_command)
