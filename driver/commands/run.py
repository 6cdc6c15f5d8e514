"""`sparsec run`: run a compiled artifact on given or random inputs.

    sparsec run bert.sparsec                                  # random valid inputs, seed 0
    sparsec run bert.sparsec --input input_ids=ids.npy --input attention_mask=mask.npy
    sparsec run bert.sparsec --inputs batch.npz --output out.npz --repeat 20

Inputs not given are random but valid (ids below their bound, masks all ones), or what Hugging
Face gives them when omitted (token_type_ids zeros, attention_mask ones). Prints each
output's shape and first values, and the median wall time of a call over ``--repeat`` runs.
Bad input (missing file, wrong shape or dtype, out-of-range id) is one ``error:`` line.
"""

from __future__ import annotations

import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from sparsec.errors import UserError, reported_errors

if TYPE_CHECKING:
    from sparsec.artifact import TensorInfo
    from sparsec.runtime import CompiledModel

SHOWN_VALUES = 6  # first values printed per output


def _read_array(path: str, where: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"{where}: no such file '{path}'") from None
    except (ValueError, OSError, EOFError) as err:
        raise UserError(f"{where}: cannot read '{path}' as a .npy array ({err})") from None


def _read_archive(path: str) -> dict[str, np.ndarray]:
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise UserError(f"--inputs: '{path}' is a .npy array, not a .npz archive")
        with npz:
            return {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise UserError(f"--inputs: no such file '{path}'") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise UserError(f"--inputs: cannot read '{path}' as a .npz archive ({err})") from None


def read_inputs(pairs: list[str], archive: str | None) -> dict[str, np.ndarray]:
    """Arrays from ``--inputs FILE.npz`` then ``--input NAME=FILE.npy`` (later ones win)."""
    arrays: dict[str, np.ndarray] = {}
    if archive is not None:
        arrays.update(_read_archive(archive))
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--input '{pair}': expected NAME=FILE.npy")
        arrays[name] = _read_array(path, f"--input {name}")
    return arrays


def check_counts(repeat: int, threads: int | None) -> None:
    """``--repeat`` and ``--threads`` must be positive."""
    if repeat < 1:
        raise UserError(f"--repeat must be at least 1, got {repeat}")
    if threads is not None and threads < 1:
        raise UserError(f"--threads must be at least 1, got {threads}")


def load_with_inputs(artifact: str, threads: int | None, given: dict[str, np.ndarray],
                     seed: int) -> tuple[CompiledModel, dict[str, np.ndarray]]:
    """The loaded model and its inputs: ``given`` ones, random valid ones for the rest."""
    from sparsec.runtime import example_sizes, load, random_inputs

    model = load(artifact, threads=threads)
    # Unknown names in ``given`` reach the model, which names them in its InputError.
    missing = [info for info in model.inputs if info.name not in given]
    sizes = {**example_sizes(model.sizes), **_given_sizes(model.inputs, given)}
    return model, {**random_inputs(missing, seed, among=model.inputs, sizes=sizes), **given}


def _given_sizes(inputs: tuple[TensorInfo, ...], given: dict[str, np.ndarray]) -> dict[str, int]:
    """The run-time sizes the given inputs have (generated inputs get the same)."""
    sizes = {}
    for info in inputs:
        shape = np.shape(given[info.name]) if info.name in given else ()
        if len(shape) == len(info.shape):
            sizes.update((d, n) for d, n in zip(info.shape, shape, strict=True)
                         if isinstance(d, str))
    return sizes


def _source(info: TensorInfo, inputs: tuple[TensorInfo, ...], given: dict, seed: int) -> str:
    """How an input was made: given, Hugging Face's default, or random."""
    from sparsec.runtime import HF_DEFAULTS, default_fill

    if info.name in given:
        return "given"
    if default_fill(info, inputs) is not None:
        return f"default ({'ones' if HF_DEFAULTS[info.name] else 'zeros'})"
    return f"generated (seed {seed})"


def _preview(array: np.ndarray) -> str:
    flat = array.reshape(-1)[:SHOWN_VALUES]
    values = ", ".join(f"{v:.6g}" if array.dtype.kind == "f" else str(v) for v in flat)
    return f"[{values}{', ...' if array.size > SHOWN_VALUES else ''}]"


def _write_outputs(path: str, names: list[str], arrays: list[np.ndarray]) -> None:
    from sparsec.atomic import atomic_path

    with atomic_path(path) as temp, temp.open("wb") as file:  # a file object: no ".npz" added
        np.savez(file, **dict(zip(names, arrays, strict=True)))


def run_command(
    artifact: Annotated[str, typer.Argument(help="Artifact directory from 'sparsec compile'.")],
    input_: Annotated[
        list[str] | None,
        typer.Option("--input", help="NAME=FILE.npy for one input (repeatable)."),
    ] = None,
    inputs: Annotated[
        str | None, typer.Option("--inputs", help="A .npz archive of inputs by name.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random inputs.")] = 0,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Save the outputs into this .npz file.")
    ] = None,
    repeat: Annotated[
        int, typer.Option("--repeat", help="Calls to time; the median is printed.")
    ] = 1,
    threads: Annotated[
        int | None, typer.Option("--threads", help="Threads of TVM's pool (default: "
                                                   "TVM_NUM_THREADS or all cores).")
    ] = None,
) -> None:
    """Run a compiled model on given or random valid inputs."""
    with reported_errors():
        check_counts(repeat, threads)
        if output is not None and not Path(output).absolute().parent.is_dir():
            raise UserError(f"--output: folder '{Path(output).absolute().parent}' does not exist")
        given = read_inputs(input_ or [], inputs)
        model, arrays = load_with_inputs(artifact, threads, given, seed)
        # Checked before anything is printed: a refused input must not be described as valid.
        arrays = dict(zip([i.name for i in model.inputs], model.check_inputs((), arrays),
                          strict=True))
        for info in model.inputs:
            source = _source(info, model.inputs, given, seed)
            shape = list(arrays[info.name].shape)
            shown = info.describe() if not info.symbols else f"{info.describe()} = {shape}"
            print(f"input  {info.name}: {shown} {source}")
        if model.sizes:
            ranges = ", ".join(f"{name} {low}..{high}" for name, (low, high) in model.sizes.items())
            print(f"sizes: {ranges} (any size in range runs)")
        seconds = []
        for _ in range(repeat):
            start = time.perf_counter()
            results = model(**arrays)
            seconds.append(time.perf_counter() - start)
        results = list(results) if isinstance(results, tuple) else [results]
        for info, result in zip(model.outputs, results, strict=True):
            print(f"output {info.name}: {result.dtype.name}{list(result.shape)} {_preview(result)}")
        runs = f"median of {repeat} runs" if repeat > 1 else "1 run"
        print(f"time: {1e3 * float(np.median(seconds)):.3f} ms ({runs})")
        if output is not None:
            _write_outputs(output, [info.name for info in model.outputs], results)


def register(app: typer.Typer) -> None:
    """Add the `run` command to the CLI."""
    app.command("run")(run_command)
