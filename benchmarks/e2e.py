"""End-to-end benchmark: a seeded BERT in PyTorch, ONNX Runtime, and sparsec dense and BSR.

    python benchmarks/e2e.py                          # BERT-base, batch 1, seq 128, 2 threads
    python benchmarks/e2e.py --shapes 32x1,1x1 --sparsities 0.9 --repeat 10
    python benchmarks/e2e.py --quick --out /tmp/e2e   # CI smoke test: tiny model, two shapes

One run, side by side on the same threads: PyTorch eager on the dense and on a pruned model
(PyTorch does not skip zeros), ONNX Runtime on the dense model (skipped with a note when
``onnxruntime`` is missing), sparsec with sparsity disabled (the paper's "TVM without BSR"),
and sparsec on the model pruned (block magnitude, all encoder linears) for every block shape
x sparsity, the block shape forced to the pruned one; plus attention-only pruning at 90 % in
32x1 blocks, as the paper did. Every compiled result is compared with PyTorch on the same
weights first: a row whose max abs error exceeds 1e-3 fails (no time counts) and the run
exits 1. Each time is the median of ``--repeat`` calls after warm-up, with its spread.
PyTorch eager is timed again last; the faster of its two timings is the baseline.

Run it on a quiet machine. On a loaded one, PyTorch's OpenMP pool (2 threads spinning at
every op's barrier) can stall for milliseconds per op while ONNX Runtime and TVM keep their
speed: the quick model took 300 ms in PyTorch instead of 1.2 ms at a load of 5 on 2 cores.
``OMP_WAIT_POLICY=PASSIVE`` limits that (it is recorded in the report with the load average).

Writes to ``--out`` (atomically): ``e2e.csv`` (one row per configuration), ``e2e.png``
(speedup heatmap, and where the time goes per kernel kind for the dense and 32x1 variants),
``e2e.json`` and ``e2e.md`` (machine, versions, date, settings, results). The machine may be
shared: compare ratios from one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime
import io
import json
import math
import os
import platform
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sparsec.atomic import atomic_path, write_text
from sparsec.commands.bench import max_abs_error, torch_runner
from sparsec.ir.bsr import format_block_shape, parse_block_shape
from sparsec.report import speedup_text, table
from sparsec.timing import Timing, measure

RESULTS = Path(__file__).parent / "results"
SHAPES = ("1x1", "4x1", "8x1", "16x1", "32x1", "1x32", "4x4", "8x8", "16x16", "32x32")
SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95)
TOLERANCE = 1e-3  # max abs error vs PyTorch above which a compiled row fails
PAPER_SPARSITY = 0.9
PROFILED_SHAPE = "32x1"  # profiled next to sparsec-dense (the paper's best block)
# Environment variables that change how the runtimes' thread pools behave, kept in the report.
THREAD_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "TVM_NUM_THREADS")

# Variants, in table order.
PYTORCH, PYTORCH_PRUNED, ORT = "pytorch-eager", "pytorch-eager-pruned", "onnxruntime"
PYTORCH_END = "pytorch-eager-end"  # timed again last: shows how far the machine drifted
SPARSEC_DENSE, SPARSEC_BSR = "sparsec-dense", "sparsec-bsr"
CSV_FIELDS = ["model", "variant", "block", "sparsity", "scope", "median_ms", "spread",
              "speedup_vs_pytorch", "speedup_vs_onnxruntime", "speedup_vs_sparsec_dense",
              "max_abs_error", "cost_model_choice", "status"]


@dataclass(frozen=True)
class Config:
    """One thing to time: a variant, and for pruned models the block shape, sparsity, scope."""

    variant: str
    block: str = ""
    sparsity: float = 0.0
    scope: str = ""

    @property
    def label(self) -> str:
        if not self.block:
            return self.variant
        return f"{self.variant} {self.block} {self.sparsity:.0%} {self.scope}"


@dataclass
class Row:
    """A measured configuration (``status`` is "ok", "skipped: ..." or "FAILED: ...")."""

    config: Config
    timing: Timing | None = None
    max_abs_error: float | None = None
    cost_model_choice: str = ""
    status: str = "ok"
    speedups: dict[str, float] = field(default_factory=dict)  # baseline variant -> speedup


# -- what to run -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options; ``--quick`` changes the defaults to a tiny model (explicit options still win)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="CI smoke test: 2 layers, hidden 128, seq 32, 32x1 and 1x1 at 90%%")
    parser.add_argument("--shapes", help=f"block shapes, comma-separated (default: all of "
                                         f"{','.join(SHAPES)})")
    parser.add_argument("--sparsities", help="fractions of blocks pruned, comma-separated")
    parser.add_argument("--layers", type=int, help="encoder layers (default 12)")
    parser.add_argument("--hidden", type=int, help="hidden size (default 768)")
    parser.add_argument("--seq-len", type=int, help="tokens per sequence (default 128)")
    parser.add_argument("--repeat", type=int, help="timed calls per configuration (default 10)")
    parser.add_argument("--threads", type=int, default=2, help="threads of every runtime")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and inputs")
    parser.add_argument("--no-attention-only", action="store_true",
                        help="skip the attention-only 90%% 32x1 configuration")
    parser.add_argument("--out", type=Path, help="output folder (default benchmarks/results/"
                                                 "e2e, or e2e-quick with --quick)")
    args = parser.parse_args(argv)
    quick = {"shapes": "32x1,1x1", "sparsities": "0.9", "layers": 2, "hidden": 128,
             "seq_len": 32, "repeat": 3, "out": RESULTS / "e2e-quick"}
    full = {"shapes": ",".join(SHAPES), "sparsities": ",".join(map(str, SPARSITIES)),
            "layers": 12, "hidden": 768, "seq_len": 128, "repeat": 10, "out": RESULTS / "e2e"}
    for name, default in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    try:
        args.shapes = [format_block_shape(parse_block_shape(s)) for s in _items(args.shapes)]
    except ValueError as err:
        parser.error(f"--shapes: {err}")
    try:
        args.sparsities = [float(s) for s in _items(args.sparsities)]
    except ValueError as err:
        parser.error(f"--sparsities: {err}")
    if not args.shapes or not args.sparsities:
        parser.error("--shapes and --sparsities need at least one value each")
    if any(not 0.0 <= s < 1.0 for s in args.sparsities):
        parser.error(f"--sparsities must lie in [0, 1), got {args.sparsities}")
    if min(args.layers, args.repeat, args.threads, args.seq_len) < 1:
        parser.error("--layers, --repeat, --threads and --seq-len must be at least 1")
    if args.hidden < 64 or args.hidden % 64:
        parser.error(f"--hidden must be a multiple of 64, got {args.hidden}")
    return args


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def plan(args: argparse.Namespace) -> list[Config]:
    """Every configuration, baselines first (the speedups need them)."""
    configs = [Config(PYTORCH), Config(ORT), Config(SPARSEC_DENSE)]
    pruned = [Config(SPARSEC_BSR, shape, sparsity, "all")
              for shape in args.shapes for sparsity in args.sparsities]
    first = pruned[0]  # PyTorch on one pruned model shows it runs as fast as on the dense one
    configs += [Config(PYTORCH_PRUNED, first.block, first.sparsity, first.scope), *pruned]
    if not args.no_attention_only:
        configs.append(Config(SPARSEC_BSR, PROFILED_SHAPE, PAPER_SPARSITY, "attention"))
    return [*configs, Config(PYTORCH_END)]


# -- the model and its inputs ----------------------------------------------------------------


class Bench:
    """The seeded model, its dense weights (restored before each pruning), inputs, workdir."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        import torch

        from sparsec.frontend.models import seeded_bert

        self.args = args
        self.workdir = workdir
        self.model = seeded_bert(args.layers, args.hidden, args.seed,
                                 max_positions=max(512, args.seq_len))
        self.dense_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.inputs = bert_inputs(self.model, args.seq_len, args.seed)
        self.torch_inputs = {k: torch.from_numpy(v) for k, v in self.inputs.items()}
        self.name = f"bert-L{args.layers}-H{args.hidden}-S{args.seq_len}"

    def weights_for(self, config: Config) -> None:
        """Load the dense weights, then prune them as ``config`` says (if it is pruned)."""
        from sparsec.frontend.prune import prunable_weights, prune_state

        self.model.load_state_dict(self.dense_state)
        if config.block:
            state = dict(self.model.named_parameters())
            prune_state(state, prunable_weights(state, config.scope),
                        parse_block_shape(config.block), config.sparsity)

    def reference(self) -> list[np.ndarray]:
        """PyTorch's outputs on the current weights."""
        return [t.numpy() for t in torch_runner(self.model, self.inputs)()]


def bert_inputs(model, seq_len: int, seed: int) -> dict[str, np.ndarray]:
    """Random valid token ids, a mask of ones and zero token types, as the model takes them."""
    from sparsec.frontend.loader import hf_example_inputs

    example = hf_example_inputs(model, 1, seq_len)
    rng = np.random.default_rng(seed)
    arrays = {name: tensor.numpy() for name, tensor in example.items()}
    arrays["input_ids"] = rng.integers(0, model.config.vocab_size, size=(1, seq_len))
    return arrays


# -- the runtimes ----------------------------------------------------------------------------


def onnxruntime_runner(bench: Bench) -> Callable[[], list[np.ndarray]]:
    """ONNX Runtime on the current (dense) weights, exported with the TorchScript exporter.

    torch 2.13's default (dynamo) exporter needs onnxscript, which is not installed here.
    """
    import onnxruntime
    import torch

    names = list(bench.inputs)

    class Positional(torch.nn.Module):  # the exporter passes inputs by position
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return self.model(**dict(zip(names, args, strict=True))).to_tuple()

    path = bench.workdir / "model.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        # eval(): export restores the wrapper's mode afterwards, and a new Module is training.
        torch.onnx.export(Positional(bench.model).eval(), tuple(bench.torch_inputs.values()),
                          str(path), dynamo=False, input_names=names)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = bench.args.threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, bench.inputs)


def compile_config(bench: Bench, config: Config, step: Callable[[str], None]):
    """Compile the current weights as ``config`` says; (loaded model, artifact path, choice)."""
    from sparsec.compiler import CompileOptions, compile_model, write_artifact
    from sparsec.frontend.trace import export
    from sparsec.runtime import load

    args = bench.args
    step("tracing")
    program = export(bench.model, bench.torch_inputs)
    options = CompileOptions(threads=args.threads, seq_len=args.seq_len,
                             sparsity=config.variant != SPARSEC_DENSE, block_shape=config.block)
    choice = cost_model_choice(program, options) if config.block else ""
    path = bench.workdir / f"{re.sub(r'[^A-Za-z0-9]+', '-', config.label)}.sparsec"
    write_artifact(compile_model(program, None, options, progress=step), path, progress=step)
    return load(path, threads=args.threads), path, choice


def cost_model_choice(program, options) -> str:
    """What block-shape-selection picks without ``block_shape``: "32x1 x48, dense x24"."""
    from dataclasses import replace

    from sparsec.compiler import build_passes, resolve_target, weight_decisions
    from sparsec.frontend import import_model
    from sparsec.passes import PassManager

    module = import_model(program)
    cpu = resolve_target(options).mcpu  # 'auto' looks for this CPU's calibration
    PassManager(build_passes(replace(options, block_shape=""), cpu)).run(module)
    counts = collections.Counter(d.block_shape for d in weight_decisions(module))
    return ", ".join(f"{shape} x{n}" for shape, n in sorted(counts.items(),
                                                             key=lambda kv: (-kv[1], kv[0])))


def kernel_kind(symbol: str) -> str:
    """A VM call's symbol as a kind of work: ``bsr_linear3`` -> ``bsr_linear``."""
    if symbol.startswith("vm.builtin."):
        return "VM builtins"
    if symbol.startswith("fused_") or symbol in ("logical_and", "add", "multiply"):
        return "fused elementwise"
    kind = re.sub(r"\d+$", "", symbol)
    return "embedding (take)" if kind == "take" else kind


def profile_artifact(path: Path, inputs: dict[str, np.ndarray], repeat: int) -> dict[str, float]:
    """Milliseconds per call by kernel kind, timed around each VM call by an instrument hook."""
    import tvm
    from tvm import relax

    from sparsec.artifact import check_library, read_manifest, read_params

    manifest = read_manifest(path)
    device = tvm.cpu()
    vm = relax.VirtualMachine(tvm.runtime.load_module(str(check_library(path, manifest))),
                              device)
    args = [tvm.runtime.tensor(inputs[i.name], device) for i in manifest.inputs]
    args += [tvm.runtime.tensor(p, device) for p in read_params(path, manifest)]
    vm["main"](*args)  # warm-up, untimed
    totals: collections.Counter[str] = collections.Counter()
    started: dict[str, float] = {}

    def instrument(func, symbol, before_run, ret_value, *call_args) -> int:
        if before_run:
            started[symbol] = time.perf_counter()
        else:
            totals[kernel_kind(symbol)] += time.perf_counter() - started.pop(symbol)
        return 0  # VMInstrumentReturnKind.NO_OP

    vm.set_instrument(instrument)
    for _ in range(repeat):
        vm["main"](*args)
    return {kind: 1e3 * seconds / repeat for kind, seconds in sorted(totals.items())}


# -- running every configuration -------------------------------------------------------------


def run_config(bench: Bench, config: Config,
               step: Callable[[str], None]) -> tuple[Row, Path | None]:
    """Measure one configuration; an error becomes a FAILED row, never the end of the run."""
    row = Row(config)
    repeat = bench.args.repeat
    try:
        bench.weights_for(config)
        if config.variant in (PYTORCH, PYTORCH_PRUNED, PYTORCH_END):
            step("PyTorch eager")
            row.timing = measure(torch_runner(bench.model, bench.inputs), repeat)
            return row, None
        expected = bench.reference()
        if config.variant == ORT:
            try:
                import onnxruntime  # noqa: F401
            except ImportError:
                row.status = "skipped: onnxruntime is not installed"
                return row, None
            step("exporting to ONNX")
            run = onnxruntime_runner(bench)
            path = None
        else:
            compiled, path, row.cost_model_choice = compile_config(bench, config, step)
            run = lambda: compiled(**bench.inputs)  # noqa: E731
        row.max_abs_error = max_abs_error(expected, run())
        if not row.max_abs_error <= TOLERANCE:
            row.status = f"FAILED: max abs error {row.max_abs_error:.3g} > {TOLERANCE:g}"
            return row, None
        step("timing")
        row.timing = measure(run, repeat)
        return row, path
    except Exception as err:  # a broken configuration must not end the run
        row.status = f"FAILED: {type(err).__name__}: {' '.join(str(err).split())}"
        return row, None


def run_all(bench: Bench, configs: list[Config], console: Console
            ) -> tuple[list[Row], dict[str, dict[str, float]]]:
    """Every configuration under a progress bar; the profiles of the chosen variants."""
    rows, profiles = [], {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[stage]}"))
    with Progress(*columns, console=console, transient=not console.is_terminal) as progress:
        task = progress.add_task("e2e", total=len(configs), stage="")
        for config in configs:
            progress.update(task, description=config.label, stage="")
            row, path = run_config(bench, config,
                                   lambda stage: progress.update(task, stage=stage))
            if path is not None and profiled(config, bench.args):
                progress.update(task, stage="profiling")
                profiles[config.label] = profile_artifact(path, bench.inputs, bench.args.repeat)
            rows.append(row)
            if row.status.startswith("FAILED"):
                progress.console.print(f"[bold red]{config.label}: {row.status}[/]")
            else:  # a log line per row: rich draws no live bar when stderr is not a terminal
                progress.console.print(f"{config.label}: {row.timing or row.status}",
                                       markup=False)
            progress.advance(task)
    add_speedups(rows)
    return rows, profiles


def profiled(config: Config, args: argparse.Namespace) -> bool:
    """sparsec-dense, and the all-linears BSR row of the paper's block at its sparsity
    (or the first pruned row when that one is not in the run)."""
    if config.variant == SPARSEC_DENSE:
        return True
    if config.variant != SPARSEC_BSR or config.scope != "all":
        return False
    if PROFILED_SHAPE in args.shapes and PAPER_SPARSITY in args.sparsities:
        return (config.block, config.sparsity) == (PROFILED_SHAPE, PAPER_SPARSITY)
    return (config.block, config.sparsity) == (args.shapes[0], args.sparsities[0])


def add_speedups(rows: list[Row]) -> None:
    """Each timed row's speedup over each timed baseline (median over median).

    PyTorch's figure is the faster of its first and last timing: load from other processes
    only ever slows a run down, so this is the conservative baseline for sparsec.
    """
    baselines = {row.config.variant: row.timing for row in rows
                 if row.config.variant in (ORT, SPARSEC_DENSE) and row.timing}
    pytorch = [row.timing for row in rows if row.config.variant in (PYTORCH, PYTORCH_END)
               and row.timing]
    if pytorch:
        baselines[PYTORCH] = min(pytorch, key=lambda timing: timing.median)
    for row in rows:
        if row.timing is not None:
            row.speedups = {name: base.median / row.timing.median
                            for name, base in baselines.items()}


# -- reports ---------------------------------------------------------------------------------


def _cell(value: float | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def csv_rows(model: str, rows: list[Row]) -> list[dict[str, str]]:
    """The CSV, one dict per row (empty cells where a figure does not exist)."""
    out = []
    for row in rows:
        c, t = row.config, row.timing
        out.append({
            "model": model, "variant": c.variant, "block": c.block,
            "sparsity": f"{c.sparsity:g}" if c.block else "", "scope": c.scope,
            "median_ms": _cell(t and 1e3 * t.median, ".4f"), "spread": _cell(t and t.spread, ".4f"),
            "speedup_vs_pytorch": _cell(row.speedups.get(PYTORCH), ".4f"),
            "speedup_vs_onnxruntime": _cell(row.speedups.get(ORT), ".4f"),
            "speedup_vs_sparsec_dense": _cell(row.speedups.get(SPARSEC_DENSE), ".4f"),
            "max_abs_error": _cell(row.max_abs_error, ".3g"),
            "cost_model_choice": row.cost_model_choice, "status": row.status,
        })
    return out


def write_csv(path: Path, records: list[dict[str, str]]) -> None:
    """The CSV, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    write_text(path, buffer.getvalue())


def _speedup(value: str) -> str:
    return speedup_text(float(value)) if value else ""


def results_table(model: str, records: list[dict[str, str]]):
    """Every row: time, spread, speedups, error, the cost model's choice."""
    columns = [("variant", "left"), ("block", "left"), ("sparsity", "right"), ("scope", "left"),
               ("median ms", "right"), ("spread", "right"), ("vs PyTorch", "right"),
               ("vs ORT", "right"), ("vs sparsec-dense", "right"), ("max abs err", "right"),
               ("cost model would pick", "left"), ("status", "left")]
    cells = [[r["variant"], r["block"], r["sparsity"], r["scope"],
              _cell(float(r["median_ms"]), ".2f") if r["median_ms"] else "",
              f"±{float(r['spread']) / 2:.0%}" if r["spread"] else "",
              _speedup(r["speedup_vs_pytorch"]), _speedup(r["speedup_vs_onnxruntime"]),
              _speedup(r["speedup_vs_sparsec_dense"]), r["max_abs_error"],
              r["cost_model_choice"], _short(r["status"])] for r in records]
    return table(f"End-to-end: {model}, batch 1", columns, cells)


def _short(status: str, width: int = 48) -> str:
    """A status that fits a table cell (failures are printed whole while the run goes)."""
    return status if len(status) <= width else status[: width - 1] + "…"


def paper_records(records: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows of the paper's table: every BSR row at 90 % sparsity."""
    return [r for r in records if r["variant"] == SPARSEC_BSR and r["sparsity"]
            and math.isclose(float(r["sparsity"]), PAPER_SPARSITY)]


def paper_table(records: list[dict[str, str]]):
    """The paper's table: speedup over PyTorch eager and over sparsec-dense at 90 %."""
    cells = [[r["block"], r["scope"], _speedup(r["speedup_vs_pytorch"]),
              _speedup(r["speedup_vs_sparsec_dense"]), _short(r["status"])]
             for r in paper_records(records)]
    columns = [("block", "left"), ("pruned", "left"), ("vs PyTorch eager", "right"),
               ("vs sparsec-dense (TVM w/o BSR)", "right"), ("status", "left")]
    return table("Speedup at 90 % sparsity (paper: 4x PyTorch, 2.2x TVM w/o BSR, 32x1)",
                 columns, cells)


def write_plot(path: Path, model: str, records: list[dict[str, str]],
               profiles: dict[str, dict[str, float]]) -> None:
    """Heatmap of speedup over PyTorch (block shape x sparsity) and per-kind time bars."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    bsr = [r for r in records if r["variant"] == SPARSEC_BSR and r["scope"] == "all"]
    shapes = list(dict.fromkeys(r["block"] for r in bsr))
    sparsities = sorted({float(r["sparsity"]) for r in bsr})
    grid = np.full((len(shapes), len(sparsities)), np.nan)
    for r in bsr:
        if r["speedup_vs_pytorch"]:
            grid[shapes.index(r["block"]), sparsities.index(float(r["sparsity"]))] = \
                float(r["speedup_vs_pytorch"])
    figure = Figure(figsize=(12, 0.45 * max(len(shapes), 6) + 2), layout="constrained")
    FigureCanvasAgg(figure)
    heat, bars = figure.subplots(1, 2, width_ratios=(1, 1.2))
    image = heat.imshow(grid, cmap="viridis", aspect="auto")
    heat.set_xticks(range(len(sparsities)), [f"{s:.0%}" for s in sparsities])
    heat.set_yticks(range(len(shapes)), shapes)
    heat.set_xlabel("sparsity (all encoder linears)")
    heat.set_ylabel("block shape (rows x cols)")
    heat.set_title(f"sparsec BSR speedup over PyTorch eager\n{model}", fontsize=10)
    for (i, j), value in np.ndenumerate(grid):
        heat.text(j, i, "fail" if np.isnan(value) else f"{value:.2f}x", ha="center",
                  va="center", fontsize=8, bbox={"facecolor": "white", "alpha": 0.7, "lw": 0})
    figure.colorbar(image, ax=heat, shrink=0.8, label="speedup")
    _profile_bars(bars, profiles)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    with atomic_path(path) as temp:
        temp.write_bytes(buffer.getvalue())


def _profile_bars(ax, profiles: dict[str, dict[str, float]]) -> None:
    """Stacked bars: milliseconds per kernel kind, one bar per profiled variant."""
    kinds = sorted({kind for profile in profiles.values() for kind in profile})
    labels = list(profiles)
    bottom = np.zeros(len(labels))
    for kind in kinds:
        values = np.array([profiles[label].get(kind, 0.0) for label in labels])
        ax.bar(range(len(labels)), values, bottom=bottom, label=kind)
        bottom += values
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel("ms per inference (VM call hooks)")
    ax.set_title("Where sparsec's time goes, per kernel kind", fontsize=10)
    if kinds:
        ax.legend(fontsize=7, loc="upper right")


def machine() -> dict[str, object]:
    """CPU model, core count, load, and the versions that matter."""
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8") as file:
        for line in file:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("torch", "tvm", "onnxruntime", "sparsec", "transformers"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = "not installed"
    env = {name: os.environ.get(name, "") for name in THREAD_ENV}
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average": list(os.getloadavg()),
            "platform": platform.platform(), "versions": versions, "environment": env,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}


def markdown(model: str, info: dict, settings: dict, records: list[dict[str, str]],
             profiles: dict[str, dict[str, float]]) -> str:
    """The report as markdown: machine, settings, results, the paper's table, profiles."""
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    load = ", ".join(f"{x:.2f}" for x in info["load_average"])
    start = ", ".join(f"{x:.2f}" for x in info["load_average_start"])
    lines = [f"# End-to-end benchmark: {model}", "",
             f"- machine: {info['cpu']}, {info['cores']} cores",
             f"- load average (1, 5, 15 min): {start} at the start, {load} at the end",
             f"- versions: {versions}", f"- date: {info['date']}",
             f"- thread environment: {json.dumps(info['environment'])}",
             f"- settings: {json.dumps(settings)}", "", "## Results", "",
             _md_table(["variant", "block", "sparsity", "scope", "median ms", "spread",
                        "vs PyTorch", "vs ORT", "vs sparsec-dense", "max abs err",
                        "cost model would pick", "status"],
                       [[r[k] for k in CSV_FIELDS[1:]] for r in records]),
             "", "## Speedup at 90 % sparsity (the paper's table)", "",
             _md_table(["block", "pruned", "vs PyTorch eager", "vs sparsec-dense"],
                       [[r["block"], r["scope"], _speedup(r["speedup_vs_pytorch"]),
                         _speedup(r["speedup_vs_sparsec_dense"])] for r in paper_records(records)])]
    for label, profile in profiles.items():
        lines += ["", f"## Time per kernel kind: {label} (ms per inference)", "",
                  _md_table(["kind", "ms"], [[k, f"{v:.3f}"] for k, v in profile.items()])]
    return "\n".join(lines) + "\n"


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every row passed its accuracy check, else 1."""
    args = parse_args(argv)
    from sparsec.runtime import set_threads

    set_threads(args.threads)  # before anything starts TVM's thread pool
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    console = Console() if sys.stdout.isatty() else Console(width=220)
    progress_console = Console(stderr=True)
    args.out.mkdir(parents=True, exist_ok=True)
    configs = plan(args)
    load_at_start = list(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="sparsec-e2e-") as workdir:
        bench = Bench(args, Path(workdir))
        rows, profiles = run_all(bench, configs, progress_console)
    records = csv_rows(bench.name, rows)
    settings = {"layers": args.layers, "hidden": args.hidden, "seq_len": args.seq_len,
                "batch": 1, "threads": args.threads, "repeat": args.repeat, "seed": args.seed,
                "shapes": args.shapes, "sparsities": args.sparsities, "tolerance": TOLERANCE}
    info = {**machine(), "load_average_start": load_at_start}
    write_csv(args.out / "e2e.csv", records)
    write_plot(args.out / "e2e.png", bench.name, records, profiles)
    report = {"model": bench.name, "machine": info, "settings": settings, "rows": records,
              "profiles_ms": profiles}
    write_text(args.out / "e2e.json", json.dumps(report, indent=2) + "\n")
    write_text(args.out / "e2e.md", markdown(bench.name, info, settings, records, profiles))
    console.print(results_table(bench.name, records))
    console.print(paper_table(records))
    console.print(f"wrote {args.out}/e2e.csv, e2e.png, e2e.json, e2e.md")
    failed = [r for r in rows if r.status.startswith("FAILED")]
    if failed:
        console.print(f"[bold red]{len(failed)} configuration(s) FAILED[/]")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
