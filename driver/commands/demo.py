"""`sparsec demo`: the whole compiler on a built-in model, no files needed.

    sparsec demo                                  # BERT-base shape, 90 % sparse in 32x1 blocks
    sparsec demo --layers 4 --hidden 256 --block 16x1 --sparsity 0.8

Builds a seeded BERT, prunes its encoder linears (block magnitude), compiles it
twice (with sparsity, and dense as the "TVM without BSR" baseline), checks the
outputs against PyTorch (an error above the tolerance of ``sparsec bench`` fails the
demo), and times all three side by side in one run.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console

from sparsec.commands.bench import DEFAULT_TOLERANCE, check_agreement, max_abs_error
from sparsec.commands.compile import StageDisplay, existing_artifact, print_decisions
from sparsec.errors import UserError, reported_errors


def _inputs(vocab: int, seq_len: int, seed: int) -> dict[str, np.ndarray]:
    ids = np.random.default_rng(seed).integers(0, vocab, size=(1, seq_len), dtype=np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids)}


def demo_command(
    layers: Annotated[int, typer.Option("--layers", help="Encoder layers.")] = 12,
    hidden: Annotated[int, typer.Option("--hidden", help="Hidden size (a multiple of 64).")] = 768,
    block: Annotated[str, typer.Option("--block", metavar="RxC",
                                       help="Block shape to prune in.")] = "32x1",
    sparsity: Annotated[float, typer.Option("--sparsity", metavar="FRACTION",
                                            help="Fraction of blocks zeroed.")] = 0.9,
    seq_len: Annotated[int, typer.Option("--seq-len", help="Tokens per sequence.")] = 128,
    threads: Annotated[int, typer.Option("--threads", help="Threads for PyTorch and sparsec.")
                       ] = 2,
    repeat: Annotated[int, typer.Option("--repeat", help="Timed runs of each (median).")] = 10,
    target: Annotated[str, typer.Option("--target", metavar="SPEC",
                                        help="LLVM CPU target ('llvm': this CPU).")] = "llvm",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the weights and inputs.")] = 0,
    output: Annotated[str | None, typer.Option("-o", "--output", metavar="DIR",
                                               help="Also keep the sparse artifact here (an "
                                               "artifact already there is replaced).")] = None,
) -> None:
    """Compile a seeded BERT pruned to 90 % in 32x1 blocks and time it against PyTorch."""
    with reported_errors():
        import torch

        from sparsec.compiler import CompileOptions, compile_model, write_artifact
        from sparsec.frontend.models import seeded_bert
        from sparsec.frontend.prune import prunable_weights, prune_state
        from sparsec.ir.bsr import parse_block_shape
        from sparsec.runtime import load, set_threads
        from sparsec.timing import busy_machine_warning, measure_side_by_side, side_by_side_note

        try:
            shape = parse_block_shape(block)
        except ValueError as err:
            raise UserError(f"--block: {err}") from None
        if threads < 1 or repeat < 1:
            raise UserError(f"--threads and --repeat must be at least 1, got {threads} "
                            f"and {repeat}")
        torch.set_num_threads(threads)
        set_threads(threads)
        console = Console() if sys.stdout.isatty() else Console(width=200)
        inputs = _inputs(30522, seq_len, seed)
        workdir = tempfile.TemporaryDirectory(prefix="sparsec-demo-")
        sparse_out = output or str(Path(workdir.name) / "sparse.sparsec")
        replacing = existing_artifact(sparse_out)
        dense_out = str(Path(workdir.name) / "dense.sparsec")
        start = time.perf_counter()
        with StageDisplay(Console(stderr=True), sparse_out) as display:
            display(f"Building a seeded BERT ({layers} layers, hidden {hidden})")
            model = seeded_bert(layers, hidden, seed)
            display(f"Pruning the encoder linears to {sparsity:.0%} in {block} blocks")
            state = dict(model.named_parameters())
            prune_state(state, prunable_weights(state), shape, sparsity)
            example = {k: torch.from_numpy(v) for k, v in inputs.items()}
            options = CompileOptions(target=target, threads=threads, seq_len=seq_len)
            sparse = compile_model(model, example, options, progress=display)
            manifest = write_artifact(sparse, sparse_out, progress=display)
            display("Compiling the dense baseline (no sparsity)")
            dense_options = CompileOptions(target=target, threads=threads, seq_len=seq_len,
                                           sparsity=False)
            write_artifact(compile_model(model, example, dense_options), dense_out)
        print_decisions(console, manifest, sparse_out, time.perf_counter() - start,
                        sparse.target.describe(), replaced=replacing)

        with torch.no_grad():
            expected = tuple(model(**example).to_tuple())
        runners = {"PyTorch eager": lambda: model(**example)}
        for name, path in (("sparsec dense", dense_out), ("sparsec sparse", sparse_out)):
            compiled = load(path, threads=threads)
            error = max_abs_error(expected, compiled(**inputs))
            console.print(f"{name}: max abs error vs PyTorch {error:.2g}")
            check_agreement(error, DEFAULT_TOLERANCE, name)
            runners[name] = lambda compiled=compiled: compiled(**inputs)
        with torch.no_grad():
            timings = measure_side_by_side(runners, repeat)
        base = timings["PyTorch eager"].median
        for name, timing in timings.items():
            console.print(f"{name:>15}: {timing}  {base / timing.median:5.2f}x PyTorch")
        console.print(side_by_side_note(threads))
        warning = busy_machine_warning(threads)
        if warning:
            console.print(warning, style="yellow")


def register(app: typer.Typer) -> None:
    """Add the `demo` command to the CLI."""
    app.command("demo")(demo_command)
