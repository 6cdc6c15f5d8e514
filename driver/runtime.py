"""The runtime: open a compiled artifact and call it like a function.

    model = sparsec.load("bert.sparsec")
    (hidden,) = model(input_ids=ids, attention_mask=mask)   # numpy arrays or torch tensors

Inputs Hugging Face defaults may be omitted, as with the model in PyTorch: ``token_type_ids``
become zeros and ``attention_mask`` ones (``default_fill``). A model compiled for ranges of
batch and sequence length (``Manifest.sizes``) takes any size in them, the same across its
inputs (``bind_sizes``). Every input is checked against the
manifest (presence, shape, dtype, and for token ids the range ``0 <= id < upper_bound``) before
any kernel runs: a compiled embedding lookup reads
out-of-range ids from outside its table, so a bad input must be an ``InputError`` naming the
input, never a crash. ``load`` checks the artifact just as strictly before the library is
loaded (``sparsec.artifact``), then that this CPU has every instruction-set extension the code
may use and that the library's ``main`` takes what the manifest lists; whatever TVM raises
while loading or running becomes an ``ArtifactError``. Only ``load`` imports tvm; torch is never
imported (a torch tensor is recognised by its type's module and converted with ``.numpy()``).
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sparsec.artifact import (
    ArtifactError,
    Manifest,
    TensorInfo,
    check_library,
    read_manifest,
    read_params,
    verify_checksums,
)
from sparsec.atomic import atomic_path
from sparsec.ir.diagnostics import SparsecError
from sparsec.threads import configure_thread_pool, spinning_openmp_warning

Executor = Callable[[list[np.ndarray]], list[np.ndarray]]
# Inputs a Hugging Face model fills in when omitted, and the value it fills them with.
HF_DEFAULTS = {"token_type_ids": 0, "attention_mask": 1}


class InputError(SparsecError, ValueError):
    """An input that does not fit the compiled model; the message names it and the problem (a
    ``ValueError`` too, as numpy and torch callers expect)."""


class CompiledModel:
    """A compiled model: call it with its inputs (by position or by name), get numpy arrays.

    ``execute`` runs the compiled code on checked inputs (in manifest order) and returns the
    outputs; ``directory`` holds the artifact files that ``save`` copies. ``keep_alive`` is
    any object that must live as long as the model (e.g. the temporary directory of a model
    compiled in memory).
    """

    def __init__(self, manifest: Manifest, execute: Executor, directory: Path | None = None,
                 keep_alive: object = None) -> None:
        self.manifest = manifest
        self._execute = execute
        self._directory = directory
        self._keep_alive = keep_alive

    @property
    def inputs(self) -> tuple[TensorInfo, ...]:
        """The inputs, in call order."""
        return self.manifest.inputs

    @property
    def outputs(self) -> tuple[TensorInfo, ...]:
        """The outputs, in return order."""
        return self.manifest.outputs

    @property
    def sizes(self) -> dict[str, tuple[int, int]]:
        """The run-time sizes (batch, sequence length) and the range of each."""
        return self.manifest.sizes

    def __call__(self, *args: Any, **named: Any) -> np.ndarray | tuple[np.ndarray, ...]:
        """Run the model: one array for a single output, else a tuple in ``outputs`` order."""
        inputs = self.check_inputs(args, named)
        results = self._execute(inputs)
        if len(results) != len(self.outputs):
            raise ArtifactError(f"the compiled code returned {len(results)} outputs, the "
                                f"manifest lists {len(self.outputs)}")
        sizes = bind_sizes(self.inputs, inputs, self.sizes)
        for info, result in zip(self.outputs, results, strict=True):
            if result.shape != info.concrete(sizes) or result.dtype.name != info.dtype:
                raise ArtifactError(f"the compiled code returned {result.dtype.name}"
                                    f"{list(result.shape)} for output '{info.name}', the "
                                    f"manifest says {info.describe()}")
        return results[0] if len(results) == 1 else tuple(results)

    def check_inputs(self, args: Sequence[Any], named: dict[str, Any]) -> list[np.ndarray]:
        """The inputs as contiguous numpy arrays in manifest order; ``InputError`` if any is bad."""
        given = _bind(self.inputs, args, named)
        arrays = [_as_array(info, given[info.name]) for info in self.inputs]
        sizes = bind_sizes(self.inputs, arrays, self.sizes)
        return [check_input(info, array, sizes) for info, array in zip(self.inputs, arrays,
                                                                        strict=True)]

    def save(self, path: str | os.PathLike) -> None:
        """Copy the artifact to the directory ``path`` (atomically: all of it or nothing)."""
        if self._directory is None:
            raise ArtifactError("this model has no artifact files to save")
        with atomic_path(path, directory=True) as temp:
            shutil.copytree(self._directory, temp, dirs_exist_ok=True)

    def __repr__(self) -> str:
        inputs = ", ".join(f"{t.name}: {t.describe()}" for t in self.inputs)
        outputs = ", ".join(t.describe() for t in self.outputs)
        return f"CompiledModel(({inputs}) -> ({outputs}), target={self.manifest.target_spec!r})"


def _bind(inputs: Sequence[TensorInfo], args: Sequence[Any],
          named: dict[str, Any]) -> dict[str, Any]:
    """Match positional and named arguments to input names, as a Python call would."""
    names = [info.name for info in inputs]
    if len(args) > len(names):
        raise InputError(f"too many inputs: the model takes {len(names)} "
                         f"({', '.join(names)}), got {len(args)}")
    given = dict(zip(names, args, strict=False))
    for name, value in named.items():
        if name not in names:
            raise InputError(f"unknown input '{name}' (the inputs are {', '.join(names)})")
        if name in given:
            raise InputError(f"input '{name}' given twice (by position and by name)")
        given[name] = value
    missing = [info for info in inputs
               if info.name not in given and default_fill(info, inputs) is None]
    if missing:
        listed = ", ".join(f"'{info.name}' ({info.describe()})" for info in missing)
        raise InputError(f"missing input{'s' if len(missing) > 1 else ''} {listed}")
    for info in inputs:
        if info.name not in given:  # the default, in the shape of the token ids given
            fill = default_fill(info, inputs)
            given[info.name] = np.full(np.shape(given["input_ids"]), fill, np.dtype(info.dtype))
    return given


def default_fill(info: TensorInfo, inputs: Sequence[TensorInfo]) -> int | None:
    """The value Hugging Face fills ``info`` with when it is omitted (zeros for
    ``token_type_ids``, ones for ``attention_mask``), or None when it has none. Decided by
    name, for a model that also takes ``input_ids`` of the same shape (as every Hugging Face
    encoder does)."""
    fill = HF_DEFAULTS.get(info.name)
    ids = next((i for i in inputs if i.name == "input_ids"), None)
    if fill is None or ids is None or ids.shape != info.shape \
            or np.dtype(info.dtype).kind not in "biuf":
        return None
    return fill


def bind_sizes(inputs: Sequence[TensorInfo], arrays: Sequence[np.ndarray],
               ranges: dict[str, tuple[int, int]]) -> dict[str, int]:
    """The value of every run-time size, read from the inputs' shapes: each static size must
    match, each run-time size be the same in every input and lie in its range."""
    sizes: dict[str, int] = {}
    seen_in: dict[str, str] = {}
    for info, array in zip(inputs, arrays, strict=True):
        shape = np.shape(array)
        if len(shape) != len(info.shape) or any(
                isinstance(d, int) and d != n for d, n in zip(info.shape, shape, strict=True)):
            raise InputError(f"input '{info.name}': expected shape {_shown(info, ranges)}, got "
                             f"{list(shape)}")
        for symbol, size in zip(info.shape, shape, strict=True):
            if isinstance(symbol, int):
                continue
            if sizes.setdefault(symbol, size) != size:
                raise InputError(f"input '{info.name}': {symbol} is {size} here but "
                                 f"{sizes[symbol]} in '{seen_in[symbol]}' (shape {list(shape)})")
            seen_in.setdefault(symbol, info.name)
            low, high = ranges[symbol]
            if not low <= size <= high:
                raise InputError(f"input '{info.name}': {symbol} {size} is outside {low}..{high}, "
                                 f"the range the model was compiled for")
    return sizes


def _shown(info: TensorInfo, ranges: dict[str, tuple[int, int]]) -> str:
    """``[batch, seq] (batch 1..32, seq 1..512)``: a shape with its ranges."""
    spans = ", ".join(f"{s} {ranges[s][0]}..{ranges[s][1]}" for s in dict.fromkeys(info.symbols))
    return f"[{', '.join(map(str, info.shape))}]" + (f" ({spans})" if spans else "")


def check_input(info: TensorInfo, value: Any, sizes: dict[str, int] | None = None
                ) -> np.ndarray:
    """``value`` as a contiguous array of ``info``'s dtype and shape (its run-time sizes as in
    ``sizes``), with values in range."""
    array = _as_array(info, value)
    if array.shape != info.concrete(sizes or {}):
        raise InputError(f"input '{info.name}': expected shape {list(info.shape)}, "
                         f"got {list(array.shape)}")
    if info.upper_bound is not None and array.size:
        _check_range(info, array)
    return np.ascontiguousarray(array)


def _as_array(info: TensorInfo, value: Any) -> np.ndarray:
    """numpy arrays and torch tensors must have the dtype already (in either byte order: the
    other one is converted); Python values get it."""
    expected = np.dtype(info.dtype)
    if _is_torch_tensor(value):
        value = _torch_to_numpy(info, value)
    if isinstance(value, np.ndarray | np.generic):
        if value.dtype.newbyteorder("=") == expected and value.dtype != expected:
            return np.asarray(value).astype(expected)  # e.g. big-endian '>i8' from a file
        if value.dtype != expected:
            raise InputError(f"input '{info.name}': expected dtype {expected.name}, got "
                             f"{value.dtype.name} (convert it with .astype('{expected.name}'))")
        return np.asarray(value)
    return _from_python(info, value, expected)


def _from_python(info: TensorInfo, value: Any, expected: np.dtype) -> np.ndarray:
    """Python numbers and (nested) lists, converted only where no value changes."""
    try:
        natural = np.asarray(value)
    except ValueError as err:  # ragged nested lists
        raise InputError(f"input '{info.name}': not an array ({err})") from None
    if natural.dtype.kind not in "biuf" or (natural.dtype.kind == "f" and expected.kind in "biu"):
        raise InputError(f"input '{info.name}': expected {expected.name} values, got "
                         f"{type(value).__name__} of {natural.dtype.name}")
    if natural.dtype.kind in "iu" and expected.kind in "iu" and natural.size:
        limits = np.iinfo(expected)
        if natural.min() < limits.min or natural.max() > limits.max:
            raise InputError(f"input '{info.name}': values do not fit in {expected.name}")
    return natural.astype(expected)


def _check_range(info: TensorInfo, array: np.ndarray) -> None:
    """Ids must lie in ``[0, upper_bound)``: name the first one that does not."""
    bad = (array < 0) | (array >= info.upper_bound)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"input '{info.name}': value {array[index]} at index {list(index)} is "
                         f"out of range (expected 0 <= value < {info.upper_bound})")


def _is_torch_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")  # a torch tensor implies torch is imported already
    return torch is not None and isinstance(value, torch.Tensor)


def _torch_to_numpy(info: TensorInfo, tensor: Any) -> np.ndarray:
    try:
        return tensor.detach().cpu().numpy()
    except (TypeError, RuntimeError) as err:  # e.g. bfloat16 has no numpy dtype
        raise InputError(f"input '{info.name}': cannot convert the torch tensor to numpy "
                         f"({str(err).splitlines()[0]})") from None


def example_sizes(ranges: dict[str, tuple[int, int]]) -> dict[str, int]:
    """A size for each run-time size, for a smoke run: batch 1 and 128 tokens where the ranges
    allow (else the nearest end of the range)."""
    return {name: min(high, max(low, 1 if name == "batch" else 128))
            for name, (low, high) in ranges.items()}


def random_inputs(inputs: Sequence[TensorInfo], seed: int = 0,
                  among: Sequence[TensorInfo] | None = None,
                  sizes: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Valid inputs for a smoke run: ids uniform below their bound, masks all ones, floats normal,
    run-time sizes as in ``sizes``.

    An input Hugging Face defaults gets its default (``default_fill``: token types zeros;
    ``among`` are all the model's inputs when ``inputs`` are only some); another integer input
    without a bound is taken for a mask when its name says so (ones), else filled with zeros,
    the one value every integer input accepts.
    """
    rng = np.random.default_rng(seed)
    arrays = {}
    for info in inputs:
        dtype, shape = np.dtype(info.dtype), info.concrete(sizes or {})
        fill = default_fill(info, among or inputs)
        if fill is not None:
            array = np.full(shape, fill)
        elif info.upper_bound is not None:
            array = rng.integers(0, info.upper_bound, size=shape)
        elif dtype.kind in "biu":
            array = np.ones(shape) if "mask" in info.name else np.zeros(shape)
        else:
            array = rng.standard_normal(shape)
        arrays[info.name] = array.astype(dtype)
    return arrays


# -- opening an artifact ------------------------------------------------------------------


def load(path: str | os.PathLike, *, threads: int | None = None,
         keep_alive: object = None) -> CompiledModel:
    """Open the artifact directory ``path`` (see ``sparsec.artifact``) and return the model.

    ``threads`` sets the size of TVM's thread pool (``TVM_NUM_THREADS``); by default TVM
    uses the ``TVM_NUM_THREADS`` of the environment, else one thread per core. The pool's
    ``keep_alive`` is kept as long as the model
    (the temporary folder of an in-memory compile).
    """
    manifest = read_manifest(path)
    verify_checksums(path)
    check_cpu_features(path, manifest)
    params = read_params(path, manifest)
    library = check_library(path)
    configure_thread_pool(threads)
    warning = spinning_openmp_warning()
    if warning:
        warnings.warn(warning, RuntimeWarning, stacklevel=2)
    return CompiledModel(manifest, _vm_executor(library, manifest, params), Path(path),
                         keep_alive)


def check_cpu_features(path: str | os.PathLike, manifest: Manifest) -> None:
    """Refuse an artifact whose code may use an extension this CPU lacks (it would die of
    SIGILL in the first such instruction)."""
    from sparsec.codegen.target import host_cannot_run, missing_host_features

    missing = missing_host_features(manifest.cpu_features)
    if missing:
        raise ArtifactError(host_cannot_run(f"artifact '{path}'", missing))


def set_threads(threads: int) -> None:
    """Use ``threads`` threads in TVM's pool (read when the pool starts, so set it early)."""
    configure_thread_pool(threads)


def _vm_executor(library: Path, manifest: Manifest, params: list[np.ndarray]) -> Executor:
    """Load the library into a Relax VM; the weights are copied to the device once."""
    import tvm
    from tvm import relax

    _check_tvm_version(manifest, tvm.__version__)
    device = tvm.cpu()
    try:
        vm = relax.VirtualMachine(tvm.runtime.load_module(str(library)), device)
        _check_signature(vm, library, manifest)
        main = vm["main"]
        weights = [tvm.runtime.tensor(p, device) for p in params]
    except ArtifactError:
        raise
    except Exception as err:  # tvm raises its own kinds for a bad library
        raise ArtifactError(f"cannot load '{library}': {_first_line(err)}") from None

    def execute(inputs: list[np.ndarray]) -> list[np.ndarray]:
        try:
            result = main(*[tvm.runtime.tensor(a, device) for a in inputs], *weights)
            return [t.numpy() for t in _flatten(result)]
        except Exception as err:
            raise ArtifactError(f"the compiled code of '{library}' failed: "
                                f"{_first_line(err)}") from None

    return execute


def _check_signature(vm: Any, library: Path, manifest: Manifest) -> None:
    """``main`` takes the manifest's inputs then params, by name, in order (the library of
    another model, or a manifest edited by hand, differs)."""
    expected = [info.name for info in (*manifest.inputs, *manifest.params)]
    if not hasattr(vm, "_get_function_arity"):  # a TVM without these: its call checks remain
        return
    try:
        arity = vm._get_function_arity("main")
    except Exception:
        raise ArtifactError(f"'{library}' has no function 'main'") from None
    names = [vm._get_function_param_name("main", i) for i in range(arity)]
    if names == expected:
        return
    index = next((i for i, (a, b) in enumerate(zip(names, expected, strict=False)) if a != b),
                 min(len(names), len(expected)))
    found = f"'{names[index]}'" if index < len(names) else "nothing"
    wanted = f"'{expected[index]}'" if index < len(expected) else "nothing"
    counts = (f"its main takes {arity} arguments, the manifest lists {len(expected)}; "
              if arity != len(expected) else "")
    raise ArtifactError(f"'{library}' does not match the manifest: {counts}argument {index} "
                        f"of main is {found}, the manifest says {wanted}")


def _first_line(err: BaseException) -> str:
    """The first line of an exception's message (TVM's run to many), with its kind."""
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def _flatten(result: Any) -> list[Any]:
    """A VM result (one tensor, or nested tuples of tensors) as a flat list of tensors."""
    if hasattr(result, "numpy"):
        return [result]
    return [t for item in result for t in _flatten(item)]


def _check_tvm_version(manifest: Manifest, running: str) -> None:
    """A library only loads into the TVM release (major.minor) that built it."""
    built = manifest.versions.get("tvm", "")
    if built.split(".")[:2] != running.split(".")[:2]:
        raise ArtifactError(f"the artifact was built with TVM {built or 'unknown'}, this is "
                            f"TVM {running}: recompile the model")
