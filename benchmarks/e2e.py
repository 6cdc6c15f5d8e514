"""End-to-end benchmark: a seeded BERT in sparsec and in the engines people would use instead.

    python benchmarks/e2e.py                          # block shape x sparsity sweep, BERT-base
    python benchmarks/e2e.py --peers                  # sparsec against its peers, BERT-base
    python benchmarks/e2e.py --shapes 32x1,1x1 --sparsities 0.9 --repeat 10
    python benchmarks/e2e.py --quick --out /tmp/e2e   # CI smoke test: tiny model, two shapes

The sweep (default): PyTorch eager on the dense and on a pruned model (PyTorch does not skip
zeros), ONNX Runtime on the dense model, sparsec with sparsity disabled (the paper's "TVM
without BSR"), and sparsec on the model pruned (block magnitude, all encoder linears) for
every block shape x sparsity, the block shape forced to the pruned one; plus attention-only
pruning at 90 % in 32x1 blocks, as the paper did. PyTorch eager is timed again last; the
faster of its two timings is the sweep's baseline.

``--peers``: every engine (PyTorch eager, torch.compile, ONNX Runtime, OpenVINO, DeepSparse,
sparsec as its cost model compiles it) on each variant that decides the question: dense;
90 % in 32x1, 16x1, 4x4 and 1x32 blocks; unstructured (1x1) at 80 % and 90 %; and the 90 %
32x1 model at batch 8 (throughput) and at 3x the sequence length. A peer that is not
installed is skipped with a one-line note (DeepSparse: ``bash benchmarks/setup_deepsparse.sh``;
OpenVINO: ``pip install -e '.[peers]'``). Speedups are over PyTorch eager on the same variant.

How the timing is kept fair: every engine runs in a process of its own (``peers/``: one small
worker per engine), since two runtimes' thread pools in one process slow each other down.
The engines of one variant get the same weights, inputs and thread count; each first runs
once and its outputs are checked against PyTorch (max abs error above 1e-3 fails its row: no
time counts, and the run exits 1). Then they are timed in interleaved rounds: round 1 is
engine A's ``--repeat``/``--rounds`` calls, then B's, ...; only one engine runs at a time while the
others wait blocked on a pipe, after an idle pause that lets the previous pool go to sleep.
Each time is the median of the pooled calls, with its spread. The load average is recorded
at the start and the end; above the core count a warning is printed and recorded.

Writes to ``--out`` (atomically) ``e2e.csv`` / ``.png`` / ``.json`` / ``.md`` (``peers.*``
with ``--peers``): one row per engine and variant; machine, CPU and ISA, load, versions,
settings. Compare ratios from one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import itertools
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

sys.path.insert(0, str(Path(__file__).parent))  # the peers/ package beside this file

from peers import engines, pool
from peers import report as peers_report
from peers.report import header_lines, md_table, speedup_cell

from sparsec.atomic import atomic_path, write_text
from sparsec.commands.bench import max_abs_error
from sparsec.ir.bsr import format_block_shape, parse_block_shape
from sparsec.report import table
from sparsec.timing import Timing, busy_machine_warning

RESULTS = Path(__file__).parent / "results"
SHAPES = ("1x1", "4x1", "8x1", "16x1", "32x1", "1x32", "4x4", "8x8", "16x16", "32x32")
SPARSITIES = (0.5, 0.7, 0.8, 0.9, 0.95)
TOLERANCE = 1e-3  # max abs error vs PyTorch above which a row fails
PAPER_SPARSITY = 0.9
PROFILED_SHAPE = "32x1"  # profiled next to sparsec-dense (the paper's best block)
ROUNDS = 3  # interleaved rounds per variant (default of --rounds)
# Environment variables that change how the runtimes' thread pools behave, kept in the report.
THREAD_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "TVM_NUM_THREADS")

# Row names ("variant" in the CSV), in table order.
PYTORCH, PYTORCH_PRUNED, ORT = "pytorch-eager", "pytorch-eager-pruned", "onnxruntime"
PYTORCH_END = "pytorch-eager-end"  # timed again last: shows how far the machine drifted
SPARSEC_DENSE, SPARSEC_BSR = "sparsec-dense", "sparsec-bsr"
TORCH_COMPILE, OPENVINO, DEEPSPARSE = "torch-compile", "openvino", "deepsparse"
SPARSEC = "sparsec"  # --peers: the block shapes the cost model picks, as a user gets them
PEERS = (PYTORCH, TORCH_COMPILE, ORT, OPENVINO, DEEPSPARSE, SPARSEC)
ENGINE_OF = {PYTORCH: "pytorch", PYTORCH_PRUNED: "pytorch", PYTORCH_END: "pytorch",
             TORCH_COMPILE: "torch-compile", ORT: "onnxruntime", OPENVINO: "openvino",
             DEEPSPARSE: "deepsparse", SPARSEC_DENSE: "sparsec", SPARSEC_BSR: "sparsec",
             SPARSEC: "sparsec"}
# --peers variants: (block, sparsity, batch, sequence length as a multiple of --seq-len).
PEER_VARIANTS = (("", 0.0, 1, 1), ("32x1", 0.9, 1, 1), ("16x1", 0.9, 1, 1), ("4x4", 0.9, 1, 1),
                 ("1x32", 0.9, 1, 1), ("1x1", 0.8, 1, 1), ("1x1", 0.9, 1, 1),
                 ("32x1", 0.9, 8, 1), ("32x1", 0.9, 1, 3))
ENGINE_TEXT = {name: engines.ENGINES[ENGINE_OF[name]].description for name in PEERS}
CSV_FIELDS = ["model", "config", "variant", "block", "sparsity", "scope", "batch", "seq_len",
              "median_ms", "spread", "speedup_vs_pytorch", "speedup_vs_onnxruntime",
              "speedup_vs_sparsec_dense", "speedup_vs_best_peer", "max_abs_error",
              "cost_model_choice", "compile_s", "details", "status"]


@dataclass(frozen=True)
class Config:
    """One row to time: an engine (``variant``) on weights pruned as ``block``, ``sparsity``
    and ``scope`` say (dense when ``block`` is empty), at ``batch`` x ``seq_len``."""

    variant: str
    block: str = ""
    sparsity: float = 0.0
    scope: str = ""
    batch: int = 1
    seq_len: int = 128

    @property
    def weights(self) -> tuple[str, float, str, int, int]:
        """What the engines of one interleaved group share: weights and input shape."""
        return (self.block, self.sparsity, self.scope, self.batch, self.seq_len)

    @property
    def name(self) -> str:
        """The weights and shape as ``dense``, ``32x1-90``, ``32x1-90-b8``, ``32x1-90-s384``."""
        name = f"{self.block}-{round(100 * self.sparsity)}" if self.block else "dense"
        name += "-attention" if self.scope == "attention" else ""
        return name + (f"-b{self.batch}" if self.batch != 1 else "") + f"-s{self.seq_len}"

    @property
    def label(self) -> str:
        if not self.block:
            return self.variant
        return f"{self.variant} {self.block} {self.sparsity:.0%} {self.scope}"


@dataclass
class Row:
    """A measured configuration (``status`` is "ok", "skipped: ..." or "FAILED: ...")."""

    config: Config
    group: int = 0  # rows of one group were timed interleaved, on the same weights
    timing: Timing | None = None
    max_abs_error: float | None = None
    info: dict = field(default_factory=dict)  # what the worker said about its engine
    status: str = "ok"
    speedups: dict[str, float] = field(default_factory=dict)  # baseline -> speedup

    @property
    def cost_model_choice(self) -> str:
        return self.info.get("cost_model_choice") or self.info.get("compiled", "")


# -- what to run -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options; ``--quick`` changes the defaults to a tiny model (explicit options still win)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="CI smoke test: 2 layers, hidden 128, seq 32, 32x1 and 1x1 at 90%%")
    parser.add_argument("--peers", action="store_true",
                        help="sparsec against PyTorch eager, torch.compile, ONNX Runtime, "
                             "OpenVINO and DeepSparse on the variants of issue 13")
    parser.add_argument("--engines", help=f"with --peers: engines, comma-separated (default: "
                                          f"{','.join(PEERS)}; {PYTORCH} is always timed)")
    parser.add_argument("--variants", help="with --peers: variants by name, comma-separated, "
                                           "e.g. dense,32x1-90,1x1-80-s128,32x1-90-b8-s128")
    parser.add_argument("--shapes", help=f"sweep: block shapes, comma-separated (default: all "
                                         f"of {','.join(SHAPES)})")
    parser.add_argument("--sparsities", help="sweep: fractions of blocks pruned, comma-separated")
    parser.add_argument("--layers", type=int, help="encoder layers (default 12)")
    parser.add_argument("--hidden", type=int, help="hidden size (default 768)")
    parser.add_argument("--seq-len", type=int, help="tokens per sequence (default 128)")
    parser.add_argument("--repeat", type=int, help="timed calls per row (default 10)")
    parser.add_argument("--rounds", type=int, default=ROUNDS,
                        help=f"interleaved rounds per variant, --repeat calls split among them "
                             f"(default {ROUNDS}; more on a noisy machine)")
    parser.add_argument("--threads", type=int, default=2, help="threads of every engine")
    parser.add_argument("--target", default="llvm",
                        help="sparsec's target (default 'llvm': this machine's CPU)")
    parser.add_argument("--baseline-isa", choices=engines.BASELINE_ISAS, default="native",
                        help="avx2: PyTorch (and torch.compile) as on an AVX2-only CPU, to time "
                             "AVX2 code (--target 'llvm -mcpu=znver3') on an AVX-512 host on "
                             "even terms (ONNX Runtime and OpenVINO are not capped)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and inputs")
    parser.add_argument("--no-attention-only", action="store_true",
                        help="sweep: skip the attention-only 90%% 32x1 configuration")
    parser.add_argument("--out", type=Path, help="output folder (default benchmarks/results/"
                                                 "e2e or peers, with -quick with --quick)")
    args = parser.parse_args(argv)
    _apply_defaults(args)
    _check_args(parser, args)
    return args


def _apply_defaults(args: argparse.Namespace) -> None:
    folder = ("peers" if args.peers else "e2e") + ("-quick" if args.quick else "")
    quick = {"shapes": "32x1,1x1", "sparsities": "0.9", "layers": 2, "hidden": 128,
             "seq_len": 32, "repeat": 3}
    full = {"shapes": ",".join(SHAPES), "sparsities": ",".join(map(str, SPARSITIES)),
            "layers": 12, "hidden": 768, "seq_len": 128, "repeat": 10}
    for name, default in {**(quick if args.quick else full), "out": RESULTS / folder}.items():
        if getattr(args, name) is None:
            setattr(args, name, default)


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
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
    if min(args.layers, args.repeat, args.threads, args.seq_len, args.rounds) < 1:
        parser.error("--layers, --repeat, --rounds, --threads and --seq-len must be at least 1")
    if args.hidden < 64 or args.hidden % 64:
        parser.error(f"--hidden must be a multiple of 64, got {args.hidden}")
    engines_ = _items(args.engines) if args.engines else list(PEERS)
    unknown = [e for e in engines_ if e not in PEERS]
    if unknown:
        parser.error(f"--engines: unknown engine '{unknown[0]}' (choose from {','.join(PEERS)})")
    args.engines = [e for e in PEERS if e == PYTORCH or e in engines_]
    args.variants = _items(args.variants) if args.variants else None
    names = [variant.name for variant in peer_variants(args)]
    unknown = [name for name in args.variants or () if name not in names]
    if unknown:
        parser.error(f"--variants: unknown variant '{unknown[0]}' (choose from "
                     f"{','.join(names)})")
    try:
        args.isa = _target_text(args.target, args.threads)
    except Exception as err:  # TargetError and friends: one line
        parser.error(f"--target: {' '.join(str(err).split())}")


def _target_text(target: str, threads: int) -> str:
    """The CPU and ISA sparsec compiles for: ``znver3 (AVX2, 8 float lanes)``."""
    from sparsec.codegen.target import parse_target

    return parse_target(target, None, threads).describe()


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def plan(args: argparse.Namespace) -> list[Config]:
    """Every row, in order; consecutive rows on the same weights are timed interleaved."""
    if args.peers:
        return plan_peers(args)
    seq = args.seq_len
    configs = [Config(PYTORCH, seq_len=seq), Config(ORT, seq_len=seq),
               Config(SPARSEC_DENSE, seq_len=seq)]
    pruned = [Config(SPARSEC_BSR, shape, sparsity, "all", seq_len=seq)
              for shape in args.shapes for sparsity in args.sparsities]
    first = pruned[0]  # PyTorch on one pruned model shows it runs as fast as on the dense one
    configs += [Config(PYTORCH_PRUNED, first.block, first.sparsity, first.scope, seq_len=seq),
                *pruned]
    if not args.no_attention_only:
        configs.append(Config(SPARSEC_BSR, PROFILED_SHAPE, PAPER_SPARSITY, "attention",
                              seq_len=seq))
    return [*configs, Config(PYTORCH_END, seq_len=seq)]


def peer_variants(args: argparse.Namespace) -> list[Config]:
    """The ``--peers`` variants (weights and shape; no engine yet), in table order."""
    return [Config("", block, sparsity, "all" if block else "", batch, scale * args.seq_len)
            for block, sparsity, batch, scale in PEER_VARIANTS]


def plan_peers(args: argparse.Namespace) -> list[Config]:
    """Every engine of ``--engines`` on every variant (``--variants`` filters them by name)."""
    return [Config(engine, *variant.weights) for variant in peer_variants(args)
            if args.variants is None or variant.name in args.variants
            for engine in args.engines]


# -- the model, its inputs and the files the workers read ---------------------------------------


class Bench:
    """The seeded model, its dense weights (restored before each pruning), the workdir."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        from sparsec.frontend.models import seeded_bert

        self.args = args
        self.workdir = workdir
        self.max_positions = max(512, args.seq_len, *(c.seq_len for c in plan(args)))
        self.model = seeded_bert(args.layers, args.hidden, args.seed,
                                 max_positions=self.max_positions)
        self.dense_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        # The sweep runs one sequence length; the peers' variants name theirs.
        self.name = f"bert-L{args.layers}-H{args.hidden}" + ("" if args.peers
                                                            else f"-S{args.seq_len}")
        self.env = {"OMP_NUM_THREADS": str(args.threads), "TVM_NUM_THREADS": str(args.threads),
                    "HF_HUB_OFFLINE": "1", **engines.QUIET_ENV}
        # PyTorch's own workers only: in sparsec's, ATEN_CPU_CAPABILITY=avx2 coincided with
        # 27-33 ms instead of 20 ms a call (BERT-base 32x1, Zen 4), though no torch kernel runs
        self.baseline_env = engines.baseline_env(args.baseline_isa)

    def weights_for(self, config: Config) -> None:
        """Load the dense weights, then prune them as ``config`` says (if it is pruned)."""
        from sparsec.frontend.prune import prunable_weights, prune_state

        self.model.load_state_dict(self.dense_state)
        if config.block:
            state = dict(self.model.named_parameters())
            prune_state(state, prunable_weights(state, config.scope),
                        parse_block_shape(config.block), config.sparsity)

    def prepare(self, config: Config) -> tuple[dict, list[np.ndarray]]:
        """Write the current weights and the inputs of ``config``'s group; the spec every
        worker gets, and PyTorch's outputs."""
        import torch

        folder = self.workdir / config.name
        folder.mkdir()
        inputs = bert_inputs(self.model, config.batch, config.seq_len, self.args.seed)
        np.savez(folder / "inputs.npz", **inputs)
        torch.save(self.model.state_dict(), folder / "state.pt")
        with torch.no_grad():
            outputs = self.model(**{k: torch.from_numpy(v) for k, v in inputs.items()})
        spec = {"inputs": str(folder / "inputs.npz"), "state": str(folder / "state.pt"),
                "onnx": str(folder / "model.onnx"), "threads": self.args.threads,
                "layers": self.args.layers, "hidden": self.args.hidden, "seed": self.args.seed,
                "max_positions": self.max_positions, "repeat": self.args.repeat,
                "target": self.args.target}
        return spec, [t.numpy() for t in outputs.to_tuple()]

    def export(self, spec: dict) -> str | None:
        """Export the current weights to ``spec["onnx"]``; why it failed, or None."""
        import torch
        from peers.onnx_export import export_onnx

        with np.load(spec["inputs"]) as archive:
            tensors = {name: torch.from_numpy(archive[name]) for name in archive.files}
        try:
            export_onnx(self.model, tensors, Path(spec["onnx"]))
        except Exception as err:  # the ONNX rows fail, the others still run
            return f"ONNX export: {type(err).__name__}: {' '.join(str(err).split())}"
        return None


def bert_inputs(model, batch: int, seq_len: int, seed: int) -> dict[str, np.ndarray]:
    """Random valid token ids, a mask of ones and zero token types, as the model takes them."""
    from sparsec.frontend.loader import hf_example_inputs

    example = hf_example_inputs(model, batch, seq_len)
    rng = np.random.default_rng(seed)
    arrays = {name: tensor.numpy() for name, tensor in example.items()}
    arrays["input_ids"] = rng.integers(0, model.config.vocab_size, size=(batch, seq_len))
    return arrays


def worker_spec(bench: Bench, config: Config, spec: dict, folder: Path) -> dict:
    """The spec of ``config``'s worker: the group's plus the engine's own settings."""
    stem = config.variant
    spec = {**spec, "outputs": str(folder / f"{stem}.out.npz")}
    if ENGINE_OF[config.variant] == "sparsec":
        forced = config.variant == SPARSEC_BSR
        spec |= {"sparsity": config.variant != SPARSEC_DENSE, "artifact":
                 str(folder / f"{stem}.sparsec"), "block_shape": config.block if forced else "",
                 "choice": forced, "profile": profiled(config, bench.args)}
    return spec


# -- running the groups ----------------------------------------------------------------------


def run_all(bench: Bench, configs: list[Config], log: Callable[[str], None]) -> list[Row]:
    """Every group of consecutive rows on the same weights, timed interleaved."""
    rows: list[Row] = []
    groups = itertools.groupby(configs, key=lambda config: config.weights)
    for index, (_, members) in enumerate(groups):
        rows += run_group(bench, list(members), index, log)
    add_speedups(rows, per_group=bench.args.peers)
    return rows


def run_group(bench: Bench, configs: list[Config], index: int,
              log: Callable[[str], None]) -> list[Row]:
    """Start a worker per row (each checked against PyTorch), time them interleaved."""
    rows = [Row(config, index) for config in configs]
    for row in rows:
        missing = engine_of(row).missing()
        if missing:
            row.status = f"skipped: {missing}"
    log(f"{configs[0].name}: preparing weights, inputs and PyTorch's outputs")
    bench.weights_for(configs[0])
    spec, reference = bench.prepare(configs[0])
    folder = bench.workdir / configs[0].name
    workers: dict[str, pool.Worker] = {}
    try:
        export_for(bench, rows, spec, log)
        for row in [row for row in rows if row.status == "ok"]:
            log(f"{row.config.label}: loading and checking")
            worker = start_row(bench, row, worker_spec(bench, row.config, spec, folder),
                               reference)
            if worker is not None:
                workers[row.config.label] = worker
        log(f"{configs[0].name}: timing {', '.join(workers)} interleaved")
        time_rows(rows, workers, bench.args.repeat, bench.args.rounds)
    finally:
        for worker in workers.values():
            worker.stop()
        remove_tree(folder)
    for row in rows:
        log(f"{row.config.label}: {row.timing or row.status}")
    return rows


def engine_of(row: Row) -> engines.Engine:
    return engines.ENGINES[ENGINE_OF[row.config.variant]]


def export_for(bench: Bench, rows: list[Row], spec: dict, log: Callable[[str], None]) -> None:
    """The ONNX export, if a row to run needs it; its failure fails those rows only."""
    onnx = [row for row in rows if row.status == "ok" and engine_of(row).input == "onnx"]
    if onnx:
        log(f"{rows[0].config.name}: exporting to ONNX")
        failure = bench.export(spec)
        for row in onnx if failure else ():
            row.status = f"FAILED: {failure}"


def start_row(bench: Bench, row: Row, spec: dict, reference: list[np.ndarray]
              ) -> pool.Worker | None:
    """The row's worker once its outputs agree with PyTorch's; else None and a FAILED row."""
    engine = engine_of(row)
    try:
        worker = pool.start(row.config.label, engine.python(), engine.script, spec,
                            Path(spec["outputs"]).parent, worker_env(bench, row))
    except pool.WorkerError as err:
        row.status = f"FAILED: {' '.join(str(err).split())}"
        return None
    row.info = worker.info
    with np.load(spec["outputs"]) as archive:
        outputs = [archive[f"arr_{i}"] for i in range(len(archive.files))]
    try:
        row.max_abs_error = max_abs_error(reference, outputs)
    except Exception as err:  # a different number or shape of outputs
        row.status = f"FAILED: {' '.join(str(err).split())}"
    if row.status == "ok" and not row.max_abs_error <= TOLERANCE:
        row.status = f"FAILED: max abs error {row.max_abs_error:.3g} > {TOLERANCE:g}"
    if row.status != "ok":
        worker.stop()
        return None
    return worker


def worker_env(bench: Bench, row: Row) -> dict[str, str]:
    """The same thread settings for every engine; inductor's cache fresh per worker; PyTorch
    capped at ``--baseline-isa``."""
    cache = bench.workdir / "inductor" / f"{row.group}-{row.config.variant}"
    capped = bench.baseline_env if ENGINE_OF[row.config.variant] in (
        "pytorch", "torch-compile") else {}
    return {**bench.env, **capped, "TORCHINDUCTOR_CACHE_DIR": str(cache)}


def time_rows(rows: list[Row], workers: dict[str, pool.Worker], repeat: int,
              rounds: int) -> None:
    """Time the ready workers interleaved; a worker dying here fails its row only."""
    while workers:
        try:
            timings = pool.time_interleaved(workers, repeat, rounds)
        except pool.WorkerError as err:
            next(r for r in rows if r.config.label == err.worker).status = f"FAILED: {err}"
            workers.pop(err.worker).stop()
            continue
        for row in rows:
            row.timing = timings.get(row.config.label, row.timing)
        return


def remove_tree(folder: Path) -> None:
    """Delete a group's files (BERT-base's weights are 440 MB per group)."""
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def profiled(config: Config, args: argparse.Namespace) -> bool:
    """Sweep: sparsec-dense, and the all-linears BSR row of the paper's block at its sparsity
    (or the first pruned row when that one is not in the run)."""
    if config.variant == SPARSEC_DENSE:
        return True
    if config.variant != SPARSEC_BSR or config.scope != "all":
        return False
    if PROFILED_SHAPE in args.shapes and PAPER_SPARSITY in args.sparsities:
        return (config.block, config.sparsity) == (PROFILED_SHAPE, PAPER_SPARSITY)
    return (config.block, config.sparsity) == (args.shapes[0], args.sparsities[0])


def add_speedups(rows: list[Row], per_group: bool) -> None:
    """Each timed row's speedup over each timed baseline (median over median).

    Sweep: the baselines of the whole run; PyTorch's figure is the faster of its first and
    last timing (load from other processes only ever slows a run down, so this is the
    conservative baseline for sparsec). Peers: the baselines of the row's own group (same
    weights and shape, timed interleaved), and sparsec's speedup over the fastest peer.
    """
    groups = collections.defaultdict(list)
    for row in rows:
        groups[row.group].append(row)
    run_level = _baselines(rows)
    for row in rows:
        if row.timing is None:
            continue
        baselines = _baselines(groups[row.group]) if per_group else run_level
        row.speedups = {name: base.median / row.timing.median
                        for name, base in baselines.items()}
        others = [r.timing.median for r in groups[row.group]
                  if r.timing and r.config.variant != SPARSEC]
        if per_group and row.config.variant == SPARSEC and others:
            row.speedups["best-peer"] = min(others) / row.timing.median


def _baselines(rows: list[Row]) -> dict[str, Timing]:
    baselines = {row.config.variant: row.timing for row in rows
                 if row.config.variant in (ORT, SPARSEC_DENSE) and row.timing}
    pytorch = [row.timing for row in rows if row.config.variant in (PYTORCH, PYTORCH_END)
               and row.timing]
    if pytorch:
        baselines[PYTORCH] = min(pytorch, key=lambda timing: timing.median)
    return baselines


# -- reports ---------------------------------------------------------------------------------


def _cell(value: float | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def csv_rows(model: str, rows: list[Row]) -> list[dict[str, str]]:
    """The CSV, one dict per row (empty cells where a figure does not exist)."""
    out = []
    for row in rows:
        c, t = row.config, row.timing
        out.append({
            "model": model, "config": c.name, "variant": c.variant, "block": c.block,
            "sparsity": f"{c.sparsity:g}" if c.block else "", "scope": c.scope,
            "batch": str(c.batch), "seq_len": str(c.seq_len),
            "median_ms": _cell(t and 1e3 * t.median, ".4f"), "spread": _cell(t and t.spread, ".4f"),
            "speedup_vs_pytorch": _cell(row.speedups.get(PYTORCH), ".4f"),
            "speedup_vs_onnxruntime": _cell(row.speedups.get(ORT), ".4f"),
            "speedup_vs_sparsec_dense": _cell(row.speedups.get(SPARSEC_DENSE), ".4f"),
            "speedup_vs_best_peer": _cell(row.speedups.get("best-peer"), ".4f"),
            "max_abs_error": _cell(row.max_abs_error, ".3g"),
            "cost_model_choice": row.cost_model_choice,
            "compile_s": _cell(row.info.get("compile_s"), ".2f"),
            "details": details(row.info), "status": row.status,
        })
    return out


def details(info: dict) -> str:
    """The engine facts a worker reported that have no column: ``threads=2; backend=...``."""
    columns = {"version", "compile_s", "cost_model_choice", "compiled", "profile_ms"}
    return "; ".join(f"{k}={v}" for k, v in info.items() if k not in columns)


def write_csv(path: Path, records: list[dict[str, str]]) -> None:
    """The CSV, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    write_text(path, buffer.getvalue())


def results_table(model: str, records: list[dict[str, str]]):
    """Every row: time, spread, speedups, error, the cost model's choice."""
    columns = [("variant", "left"), ("block", "left"), ("sparsity", "right"), ("scope", "left"),
               ("median ms", "right"), ("spread", "right"), ("vs PyTorch", "right"),
               ("vs ORT", "right"), ("vs sparsec-dense", "right"), ("max abs err", "right"),
               ("cost model would pick", "left"), ("status", "left")]
    cells = [[r["variant"], r["block"], r["sparsity"], r["scope"],
              _cell(float(r["median_ms"]), ".2f") if r["median_ms"] else "",
              f"±{float(r['spread']) / 2:.0%}" if r["spread"] else "",
              speedup_cell(r["speedup_vs_pytorch"]), speedup_cell(r["speedup_vs_onnxruntime"]),
              speedup_cell(r["speedup_vs_sparsec_dense"]), r["max_abs_error"],
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
    cells = [[r["block"], r["scope"], speedup_cell(r["speedup_vs_pytorch"]),
              speedup_cell(r["speedup_vs_sparsec_dense"]), _short(r["status"])]
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


def markdown(model: str, info: dict, settings: dict, records: list[dict[str, str]],
             profiles: dict[str, dict[str, float]]) -> str:
    """The report as markdown: machine, settings, results, the paper's table, profiles."""
    lines = [*header_lines(f"End-to-end benchmark: {model}", info, settings), "",
             "## Results", "",
             md_table([k.replace("_", " ") for k in CSV_FIELDS[2:]],
                      [[r[k] for k in CSV_FIELDS[2:]] for r in records]),
             "", "## Speedup at 90 % sparsity (the paper's table)", "",
             md_table(["block", "pruned", "vs PyTorch eager", "vs sparsec-dense"],
                       [[r["block"], r["scope"], speedup_cell(r["speedup_vs_pytorch"]),
                         speedup_cell(r["speedup_vs_sparsec_dense"])]
                        for r in paper_records(records)])]
    for label, profile in profiles.items():
        lines += ["", f"## Time per kernel kind: {label} (ms per inference)", "",
                  md_table(["kind", "ms"], [[k, f"{v:.3f}"] for k, v in profile.items()])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every row that ran passed its accuracy check, else 1."""
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)  # for the reference outputs only
    console = Console() if sys.stdout.isatty() else Console(width=220)
    log_console = Console(stderr=True)
    args.out.mkdir(parents=True, exist_ok=True)
    warnings = busy_warnings(args.threads, "start", log_console)
    load_at_start = list(os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="sparsec-e2e-") as workdir:
        bench = Bench(args, Path(workdir))
        rows = run_all(bench, plan(args), lambda line: log_console.print(line, markup=False))
    warnings += busy_warnings(args.threads, "end", log_console)
    info = {**peers_report.machine({name: os.environ.get(name, "") for name in THREAD_ENV}),
            "load_average_start": load_at_start, "warnings": warnings, "isa": args.isa,
            "worker_environment": bench.env, "pytorch_environment": bench.baseline_env}
    info["versions"] |= engine_versions(rows)
    write_reports(args, bench.name, rows, info, console)
    failed = [r for r in rows if r.status.startswith("FAILED")]
    if failed:
        console.print(f"[bold red]{len(failed)} row(s) FAILED[/]")
    return 1 if failed else 0


def busy_warnings(threads: int, when: str, console: Console) -> list[str]:
    """sparsec's busy-machine warning (load average above the core count), printed."""
    warning = busy_machine_warning(threads)
    if warning is None:
        return []
    console.print(f"{warning} (at the {when})", markup=False, style="yellow")
    return [f"{warning} (at the {when})"]


def engine_versions(rows: list[Row]) -> dict[str, str]:
    """The versions the workers reported (DeepSparse's venv is not this process's)."""
    return {ENGINE_OF[r.config.variant]: r.info["version"] for r in rows
            if "version" in r.info and ENGINE_OF[r.config.variant] in (DEEPSPARSE, OPENVINO)}


def settings_of(args: argparse.Namespace) -> dict[str, object]:
    """The options that shaped the run, for the JSON and markdown."""
    settings = {"layers": args.layers, "hidden": args.hidden, "seq_len": args.seq_len,
                "threads": args.threads, "repeat": args.repeat, "rounds": args.rounds,
                "seed": args.seed, "target": args.target, "tolerance": TOLERANCE,
                "baseline_isa": args.baseline_isa}
    if args.peers:
        return settings | {"engines": args.engines, "variants": args.variants or "all"}
    return settings | {"batch": 1, "shapes": args.shapes, "sparsities": args.sparsities}


def write_reports(args: argparse.Namespace, model: str, rows: list[Row], info: dict,
                  console: Console) -> None:
    """CSV, PNG, JSON and markdown into ``--out``; the tables on the terminal."""
    records, settings = csv_rows(model, rows), settings_of(args)
    stem = "peers" if args.peers else "e2e"
    profiles = {r.config.label: r.info["profile_ms"] for r in rows if "profile_ms" in r.info}
    write_csv(args.out / f"{stem}.csv", records)
    report = {"model": model, "machine": info, "settings": settings, "rows": records}
    if args.peers:
        peers_report.write_peers_plot(args.out / "peers.png", model, info["isa"], records)
        text = peers_report.peers_markdown(model, info, settings, records, ENGINE_TEXT,
                                           CSV_FIELDS)
        console.print(peers_report.peers_table(model, records))
    else:
        write_plot(args.out / "e2e.png", model, records, profiles)
        report["profiles_ms"] = profiles
        text = markdown(model, info, settings, records, profiles)
        console.print(results_table(model, records))
        console.print(paper_table(records))
    write_text(args.out / f"{stem}.json", json.dumps(report, indent=2) + "\n")
    write_text(args.out / f"{stem}.md", text)
    console.print(f"wrote {args.out}/{stem}.csv, {stem}.png, {stem}.json, {stem}.md")


if __name__ == "__main__":
    sys.exit(main())
