"""`sparsec bench`: time a compiled artifact, optionally next to PyTorch eager on the same inputs.

    sparsec bench bert.sparsec                                   # random valid inputs, 20 runs
    sparsec bench bert.sparsec --repeat 50 --threads 2 --inputs batch.npz
    sparsec bench bert.sparsec --compare-torch bert-dir          # + PyTorch, speedup, max error

Each figure is the median of ``--repeat`` calls after two warm-up calls, with its spread
(max - min over the median). ``--compare-torch`` takes the model the artifact was compiled
from (a Hugging Face directory or a torch.export archive): PyTorch runs it on the same inputs
and the outputs are compared before PyTorch is timed. Outputs that differ by more than
``--tolerance`` (max abs error) are an error, exit 1: a fast wrong answer is no speedup. PyTorch
runs on as many threads as sparsec, and the two are timed in alternating rounds with an idle
pause before each (``sparsec.timing.measure_side_by_side``), so that neither runtime's thread
pool slows the other; a machine already busy (load average above the cores) is warned about.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import typer

from sparsec.commands.run import check_counts, load_with_inputs, read_inputs
from sparsec.errors import UserError, reported_errors

# Max abs error allowed against PyTorch: float32 kernels that sum in another order differ by
# about 1e-6 on BERT-base; a wrong kernel or wrong weights differ by 1e-2 and more.
DEFAULT_TOLERANCE = 1e-3


def max_abs_error(expected: Sequence[Any], actual: Sequence[Any]) -> float:
    """The largest absolute difference between paired outputs (numpy arrays or torch tensors)."""
    if len(expected) != len(actual):
        raise UserError(f"the outputs differ in number: {len(expected)} against {len(actual)}")
    errors = [0.0]
    for want, got in zip(expected, actual, strict=True):
        want, got = np.asarray(want), np.asarray(got)
        if want.shape != got.shape:
            raise UserError(f"output shapes differ: {list(want.shape)} against {list(got.shape)}")
        errors.append(float(np.abs(want.astype(np.float64) - got).max()) if want.size else 0.0)
    return max(errors)


def check_agreement(error: float, tolerance: float, where: str) -> None:
    """``UserError`` unless the max abs error against PyTorch is within ``tolerance`` (NaN is
    not)."""
    if not error <= tolerance:
        raise UserError(f"the outputs differ from PyTorch's: max abs error {error:.3g} > "
                        f"tolerance {tolerance:g} ({where})")


def torch_runner(module: Any, inputs: dict[str, np.ndarray]):
    """A function that runs a torch module on ``inputs`` (by name) and returns its output leaves."""
    import torch

    tensors = {name: torch.from_numpy(array) for name, array in inputs.items()}

    def run() -> list[Any]:
        with torch.no_grad():
            return torch.utils._pytree.tree_leaves(module(**tensors))

    return run


def _torch_module(path: str, inputs: dict[str, np.ndarray]) -> Any:
    """The model at ``path`` (HF directory or export archive) as a callable module."""
    from sparsec.frontend.errors import FrontendError
    from sparsec.frontend.loader import load as load_model

    ids = inputs.get("input_ids", next(iter(inputs.values())))
    batch, seq_len = ids.shape[:2] if ids.ndim >= 2 else (1, ids.shape[0])
    try:
        loaded = load_model(path, batch=batch, seq_len=seq_len)
    except FrontendError as err:
        raise UserError(f"--compare-torch: {err}") from None
    return loaded.module if loaded.program is None else loaded.program.module()


def bench_command(
    artifact: Annotated[str, typer.Argument(help="Artifact directory from 'sparsec compile'.")],
    repeat: Annotated[int, typer.Option("--repeat", help="Timed calls (median).")] = 20,
    threads: Annotated[int | None, typer.Option("--threads", help="Threads of TVM's pool "
                                                "and PyTorch (default: TVM_NUM_THREADS or all "
                                                "cores).")] = None,
    inputs: Annotated[str | None, typer.Option("--inputs", metavar="FILE.npz",
                                               help="A .npz archive of inputs by name (others "
                                               "are random).")] = None,
    compare_torch: Annotated[str | None, typer.Option("--compare-torch", metavar="MODEL",
                                                      help="Also run and time this model (HF "
                                                      "directory or .pt2) in PyTorch eager; "
                                                      "outputs must agree within "
                                                      "--tolerance.")] = None,
    tolerance: Annotated[float, typer.Option("--tolerance", metavar="MAX_ABS_ERROR",
                                             help="Largest max abs error against PyTorch "
                                             "that --compare-torch accepts.")
                         ] = DEFAULT_TOLERANCE,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random inputs.")] = 0,
) -> None:
    """Time a compiled model (median and spread over repeats), optionally against PyTorch."""
    from sparsec.threads import pool_size
    from sparsec.timing import (
        busy_machine_warning,
        measure,
        measure_side_by_side,
        side_by_side_note,
    )

    with reported_errors():
        check_counts(repeat, threads)
        if not tolerance >= 0:
            raise UserError(f"--tolerance must be at least 0, got {tolerance}")
        model, arrays = load_with_inputs(artifact, threads, read_inputs([], inputs), seed)
        checked = dict(zip([i.name for i in model.inputs], model.check_inputs((), arrays),
                           strict=True))
        outputs = model(**checked)
        outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
        threads = threads or pool_size()
        if compare_torch is None:
            print(f"sparsec: {measure(lambda: model(**checked), repeat)} (median of {repeat} "
                  "runs)")
            _warn_if_busy(busy_machine_warning(threads))
            return
        run_torch = _checked_torch_runner(compare_torch, checked, outputs, tolerance, threads)
        timings = measure_side_by_side({"sparsec": lambda: model(**checked),
                                        "PyTorch eager": run_torch.run}, repeat)
        for name, timing in timings.items():
            print(f"{name}: {timing} (median of {repeat} runs)")
        print(side_by_side_note(threads))
        speedup = timings["PyTorch eager"].median / timings["sparsec"].median
        print(f"speedup over PyTorch: {speedup:.2f}x, max abs error {run_torch.error:.3g}")
        _warn_if_busy(busy_machine_warning(threads))


@dataclass
class _TorchRun:
    run: Callable[[], object]
    error: float  # max abs error of the artifact's outputs against PyTorch's


def _checked_torch_runner(model_path: str, inputs: dict[str, np.ndarray], outputs: list,
                          tolerance: float, threads: int) -> _TorchRun:
    """PyTorch eager on ``threads`` threads, once its outputs agree with the artifact's."""
    import torch

    torch.set_num_threads(threads)
    run_torch = torch_runner(_torch_module(model_path, inputs), inputs)
    try:
        expected = run_torch()
    except (TypeError, RuntimeError, ValueError, IndexError) as err:  # e.g. a smaller vocab
        raise UserError(f"--compare-torch: '{model_path}' does not run on the artifact's "
                        f"inputs ({str(err).strip().splitlines()[0]})") from None
    error = max_abs_error(expected, outputs)
    check_agreement(error, tolerance, f"--compare-torch {model_path}")
    return _TorchRun(run_torch, error)


def _warn_if_busy(warning: str | None) -> None:
    if warning:
        print(warning, file=sys.stderr)


def register(app: typer.Typer) -> None:
    """Add the `bench` command to the CLI."""
    app.command("bench")(bench_command)
