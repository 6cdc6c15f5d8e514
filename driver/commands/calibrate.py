"""`sparsec calibrate`: time the kernels on this CPU so block-shape selection follows them.

    sparsec calibrate                     # this machine's CPU
    sparsec calibrate --target llvm -mcpu=skylake-avx512

Writes the fitted cost model to the cache (``~/.cache/sparsec``, keyed by CPU
name and sparsec version), where `compile` and `analyze` find it with the
default ``--cost-model auto``; ``--output`` writes it elsewhere as well.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from sparsec.atomic import write_text
from sparsec.commands.compile import StageDisplay
from sparsec.errors import UserError, reported_errors
from sparsec.ir.bsr import parse_block_shape
from sparsec.passes.sparsity_analysis import DEFAULT_BLOCK_SHAPES
from sparsec.report import table


def calibrate_command(
    target: Annotated[str, typer.Option("--target", help="LLVM CPU target ('llvm': this CPU).")
                      ] = "llvm",
    mcpu: Annotated[str | None, typer.Option("-mcpu", help="CPU for the target.")] = None,
    threads: Annotated[int | None, typer.Option("--threads", help="Threads the kernels use "
                                                "(default: TVM_NUM_THREADS or all cores).")
                       ] = None,
    block_shapes: Annotated[str, typer.Option("--block-shapes", help="Block shapes RxC to "
                                              "time, comma-separated (others keep the analytic "
                                              "estimate).")] = ",".join(DEFAULT_BLOCK_SHAPES),
    output: Annotated[str | None, typer.Option("-o", "--output", help="Also write the model "
                                               "to this JSON file.")] = None,
) -> None:
    """Measure the BSR and dense kernels on this CPU and cache the fitted cost model."""
    with reported_errors():
        from sparsec.codegen.calibrate import calibrate
        from sparsec.codegen.target import parse_target
        from sparsec.passes.cost_model import calibration_path

        shapes = tuple(s.strip() for s in block_shapes.split(",") if s.strip())
        for shape in shapes:
            try:
                parse_block_shape(shape)
            except ValueError as err:
                raise UserError(f"--block-shapes: {err}") from None
        cpu_target = parse_target(target, mcpu, threads)
        with StageDisplay(Console(stderr=True), output or "") as display:
            model = calibrate(cpu_target, shapes,
                              progress=lambda s: display(f"Timing {s} kernels"))
        text = model.to_json()
        cache = calibration_path(cpu_target.mcpu)
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_text(cache, text)
        if output:
            write_text(output, text)
        rows = [[shape, f"{cost.efficiency:.2f}", f"{cost.fixed_cost:.1f}"]
                for shape, cost in model.shapes.items()]
        console = Console()
        console.print(table(f"Cost model of {cpu_target.mcpu}",
                            [("block", "left"), ("efficiency vs dense", "right"),
                             ("fixed cost per feature", "right")], rows))
        console.print(f"wrote {cache}", soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    """Add the `calibrate` command to the CLI."""
    app.command("calibrate")(calibrate_command)
