"""`sparsec compile`: compile a model into an artifact that `sparsec run` and `sparsec.load` open.

    sparsec compile bert-dir --target llvm -mcpu=skylake-avx512 -o bert.sparsec
    sparsec compile bert-dir --target "llvm -mcpu=skylake-avx512 -mattr=+avx512f"
    sparsec compile model.pt2 --block-shape 32x1 --layer '*.attention.*=dense'
    sparsec compile model.pt2 --no-sparsity -o dense.sparsec      # the "TVM without BSR" baseline
    sparsec compile model.pt2 --dump-ir ir/                         # ir/00-import.mlir, 01-...
    sparsec compile model.pt2 --tune 64 --tune-db tuning/           # meta_schedule, cached
    sparsec compile traced.pt                                       # TorchScript (torch.jit.save)
    sparsec compile edited.mlir                                     # IR from import / opt

MODEL is a model file or folder (see ``sparsec.frontend.loader``) or IR text with its weights
(``sparsec import -o``, ``sparsec opt -o``, ``--dump-ir DIR --keep-resources``), compiled as it
stands: the passes it records as run (or whose results it holds) are not run again unless
``--rerun-passes``; a sparsity option that would then have no effect is refused.

Shows each stage while it runs, then one row per linear weight (shape, density, chosen block
shape, kernel layout, predicted speedup) and a summary line naming the CPU the code is for
(and, when this machine cannot run that code, a line saying why). Without ``-o`` the artifact
is the model's name with ``.sparsec`` for its extension, in the current folder; an artifact
already there is replaced, and the summary says so. The artifact is written atomically: a
failure or Ctrl-C leaves no half-written output and the old one intact. Bad input is one
``error: ...`` line and exit 1.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from sparsec.artifact import MANIFEST, Manifest
from sparsec.commands.import_model import STAGES
from sparsec.errors import UserError, reported_errors
from sparsec.options import (
    AllowMissingWeightsOption,
    AllowPickleOption,
    BatchOption,
    BlockShapeOption,
    CostModelOption,
    DenseAboveOption,
    LayerOption,
    SeqLenOption,
    size_value,
)
from sparsec.report import percent, speedup_text, table

if TYPE_CHECKING:
    from sparsec.codegen.target import CpuTarget


class StageDisplay:
    """A rich progress display with one line per stage: a spinner while it runs, then its time."""

    def __init__(self, console: Console, output: str) -> None:
        self._progress = Progress(SpinnerColumn(finished_text="[green]✓"),
                                  TextColumn("{task.description}"), TimeElapsedColumn(),
                                  console=console)
        self._output = output
        self._task: TaskID | None = None

    def __enter__(self) -> StageDisplay:
        return self  # the display starts with the first stage

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self._finish()
        elif self._task is not None:
            self._progress.remove_task(self._task)  # the error message says what failed
        if not self._progress.live.is_started:
            return
        if self._progress.tasks:
            self._progress.stop()
        else:  # nothing to show: leave no blank line (Progress.stop would print one)
            self._progress.live.transient = True
            self._progress.live.stop()

    def __call__(self, stage: str) -> None:
        """Start ``stage`` (a frontend stage key, ``pass NAME``, or a code generator stage)."""
        self._finish()
        if not self._progress.live.is_started:
            self._progress.start()
        self._task = self._progress.add_task(self._describe(stage), total=None)

    def _finish(self) -> None:
        if self._task is not None:
            self._progress.update(self._task, total=1, completed=1)

    def _describe(self, stage: str) -> str:
        if stage in STAGES:
            return STAGES[stage]
        if stage.startswith("pass "):
            return f"Running pass {stage.removeprefix('pass ')}"
        if stage == "target":
            return "Checking the target"
        if stage == "writing":
            return f"Writing {self._output}"
        return stage[:1].upper() + stage[1:]


def print_decisions(console: Console, manifest: Manifest, output: str, seconds: float,
                    cpu: str, replaced: bool = False) -> None:
    """The per-weight table of sparsity decisions and the summary line (``cpu``: what the code
    is built for, ``CpuTarget.describe()``; ``replaced``: an older artifact was at ``output``)."""
    kernels = kernel_layouts(manifest)
    rows = [[w.weight, f"{w.shape[0]}x{w.shape[1]}", percent(w.density), w.block_shape,
             kernels.get(w.weight, "-"),
             speedup_text(w.speedup) if w.block_shape != "dense" else "1.00x"]
            for w in manifest.weights]
    if rows:
        columns = [("weight", "left"), ("shape", "right"), ("density", "right"),
                   ("block shape", "left"), ("kernel", "left"), ("predicted speedup", "right")]
        console.print(table(f"Sparsity decisions for {manifest.model}", columns, rows))
    totals = manifest.summary()
    if manifest.weights:
        sparsity = (f"{totals['linears']} linears ({totals['bsr']} BSR, "
                    f"{totals['linears'] - totals['bsr']} dense), weight density "
                    f"{percent(totals['density'])}, predicted speedup of the linears "
                    f"{speedup_text(totals['predicted_speedup'])}")
    else:
        sparsity = "sparsity disabled: every linear is dense"
    kernels = f"{sum(manifest.kernels.values())} kernels"
    if manifest.sizes:
        kernels += " for " + ", ".join(f"{name} {low}..{high}"
                                       for name, (low, high) in manifest.sizes.items())
    wrote = f"replaced the existing {output}" if replaced else f"wrote {output}"
    console.print(f"{sparsity}; {kernels}; {wrote} ({_size_mb(Path(output)):.1f} MB) "
                  f"for {cpu} in {seconds:.1f} s", markup=False, soft_wrap=True)


def kernel_layouts(manifest: Manifest) -> dict[str, str]:
    """Each BSR weight's kernel layout, as its packed params are named (``KEY:LAYOUT``):
    ``rows``, ``rows-4slices`` (K swept in 4 slices), ``tokens``, ``tokens-sweep128`` (groups of
    128 rows swept by block column); see ``codegen/bsr_linear.py``."""
    return {weight: layout.data.partition(":")[2] or "bsr" for layout in manifest.bsr
            for weight in layout.weights}


def existing_artifact(path: str) -> bool:
    """Whether ``path`` holds an artifact that writing there replaces. Any other non-empty
    folder is refused: replacing it would delete files that sparsec did not write."""
    folder = Path(path)
    if not folder.is_dir():
        return False
    if (folder / MANIFEST).is_file():
        return True
    if any(folder.iterdir()):
        raise UserError(f"cannot write '{path}': it is a folder with files but not a sparsec "
                        "artifact (give another -o)")
    return False


def host_warning(target: CpuTarget) -> str | None:
    """One line when this machine cannot run code built for ``target``, naming what it lacks."""
    from sparsec.codegen.target import host_cpu, missing_host_features

    missing = missing_host_features(target.isa_features())
    if not missing:
        return None
    return (f"warning: the artifact will not run on this machine: code for {target.mcpu} uses "
            f"{', '.join(missing)}, which this CPU ({host_cpu()}) lacks")


def _size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6


ModelOrIrArgument = Annotated[
    str, typer.Argument(metavar="MODEL",
                        help="torch.export archive, TorchScript archive, Hugging Face model "
                             "directory, (with --allow-pickle) torch.save file, or IR text with "
                             "its weights from 'sparsec import' / 'sparsec opt'.")
]


def compile_command(
    model: ModelOrIrArgument,
    target: Annotated[
        str, typer.Option("--target", metavar="SPEC",
                          help="LLVM CPU target: 'llvm' (this CPU) or e.g. "
                               "'llvm -mcpu=skylake-avx512 -mattr=+avx512f'.")
    ] = "llvm",
    mcpu: Annotated[
        str | None, typer.Option("-mcpu", metavar="CPU",
                                 help="CPU for the target (as in --target llvm "
                                      "-mcpu=skylake-avx512).")
    ] = None,
    mattr: Annotated[
        str | None, typer.Option("-mattr", metavar="FEATURES",
                                 help="CPU features for the target, e.g. +avx512f.")
    ] = None,
    output: Annotated[
        str | None, typer.Option("-o", "--output", metavar="DIR",
                                 help="Artifact directory, written atomically; an artifact "
                                      "already there is replaced. Default: the model's name "
                                      "with .sparsec for its extension, in this folder "
                                      "(bert.pt2 -> bert.sparsec).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", help="Threads to generate schedules for "
                                                   "(default: TVM_NUM_THREADS or all cores).")
    ] = None,
    dump_ir: Annotated[
        str | None, typer.Option("--dump-ir", metavar="DIR",
                                 help="Write the IR after import and after every pass into "
                                      "this folder (NN-pass.mlir).")
    ] = None,
    block_shape: BlockShapeOption = "",
    layer: LayerOption = None,
    dense_above: DenseAboveOption = 0.5,
    no_sparsity: Annotated[
        bool, typer.Option("--no-sparsity", help="Keep every weight dense (TVM without BSR).")
    ] = False,
    cost_model: CostModelOption = "auto",
    elide_resources: Annotated[
        bool, typer.Option("--elide-resources/--keep-resources",
                           help="Elide the weights in --dump-ir files (--keep-resources writes "
                                "complete IR that 'sparsec opt' and 'sparsec compile' reload).")
    ] = True,
    tune: Annotated[
        int, typer.Option("--tune", metavar="TRIALS",
                          help="Tune the generic kernels with TVM meta_schedule, TRIALS "
                               "candidates each (slow; results are cached in --tune-db).")
    ] = 0,
    tune_db: Annotated[
        str | None, typer.Option("--tune-db", metavar="FILE",
                                 help="Tuning database folder, reused across runs (default "
                                      "~/.cache/sparsec/tuning/<cpu>).")
    ] = None,
    batch: BatchOption = None,
    seq_len: SeqLenOption = None,
    rerun_passes: Annotated[
        bool, typer.Option("--rerun-passes",
                           help="For IR input: run every pass again, also those it records as "
                                "already run.")
    ] = False,
    allow_pickle: AllowPickleOption = False,
    allow_missing_weights: AllowMissingWeightsOption = False,
) -> None:
    """Compile a model for a CPU into an artifact (library + weights + manifest)."""
    with reported_errors():
        from sparsec.compiler import (
            CompileOptions,
            check_output,
            compile_model,
            default_output,
            write_artifact,
        )

        options = CompileOptions(
            target=target, mcpu=mcpu, mattr=mattr, threads=threads, sparsity=not no_sparsity,
            block_shape=block_shape, layers=tuple(layer or ()), dense_above=dense_above,
            cost_model=cost_model, batch=size_value(batch),
            seq_len=size_value(seq_len), rerun_passes=rerun_passes, allow_pickle=allow_pickle,
            allow_missing_weights=allow_missing_weights, dump_ir=dump_ir,
            elide_resources=elide_resources, tune_trials=tune, tune_db=tune_db)
        out = output or str(default_output(model))
        check_output(out)
        replacing = existing_artifact(out)
        start = time.perf_counter()
        with StageDisplay(Console(stderr=True), out) as display:
            compilation = compile_model(model, options=options, progress=display)
            manifest = write_artifact(compilation, out, progress=display)
        console = Console() if sys.stdout.isatty() else Console(width=200)
        if compilation.built.tuning is not None:
            console.print(compilation.built.tuning.summary(), markup=False, soft_wrap=True)
        print_decisions(console, manifest, out, time.perf_counter() - start,
                        compilation.target.describe(), replaced=replacing)
        warning = host_warning(compilation.target)
        if warning is not None:
            print(warning, file=sys.stderr)


def register(app: typer.Typer) -> None:
    """Add the `compile` command to the CLI."""
    app.command("compile")(compile_command)
