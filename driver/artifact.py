"""The compiled artifact: a directory holding the library, the weights and a JSON manifest.

    bert.sparsec/
        model.so        the exported TVM library (Relax VM; ``main`` takes inputs..., params...)
        params.npz      the weights, one entry per name in the manifest's ``params``, in order
        manifest.json   inputs, outputs, target, CPU features, versions, per-weight decisions
        SHA256SUMS      the SHA-256 of the three files above (``sha256sum -c`` reads it)

Reading a manifest needs neither torch nor tvm: ``sparsec run --help``-style tools and the input
checks work from the manifest alone. Every problem with an artifact on disk (missing, not JSON,
wrong version, missing, changed or mismatched files) is an ``ArtifactError`` with a one-line
message. A damaged weight or library can crash the process inside a kernel or ``dlopen``, where
no signal handler helps, so everything is checked before the library is loaded: the checksums,
every weight's shape, dtype and finiteness, every BSR triple's structure, the library's ELF
layout.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sparsec.ir.diagnostics import SparsecError as UserError

MANIFEST_VERSION = 2  # 2: cpu_features, bsr, params' finite; SHA256SUMS replaces library_sha256
LIBRARY = "model.so"
PARAMS = "params.npz"
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
CHECKED_FILES = (MANIFEST, PARAMS, LIBRARY)  # in the order they are verified


class ArtifactError(UserError):
    """An artifact that cannot be opened: missing, corrupt, or from another version."""


@dataclass(frozen=True)
class TensorInfo:
    """One input, output or weight of a compiled model, as the manifest records it.

    ``upper_bound`` is an exclusive bound on the values (token ids < vocabulary size); an input
    with a bound is an index, so its values must also be at least 0. ``finite`` is recorded for
    weights: whether every value was finite when the artifact was written.
    """

    name: str
    shape: tuple[int | str, ...]  # a run-time size is its symbol (see ``Manifest.sizes``)
    dtype: str  # numpy dtype name
    upper_bound: int | None = None
    finite: bool | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "upper_bound": self.upper_bound}
        return data if self.finite is None else {**data, "finite": self.finite}

    @classmethod
    def from_json(cls, data: Any, where: str) -> TensorInfo:
        """Parse and check one manifest entry; ``where`` names it in errors."""
        if not isinstance(data, dict):
            raise ArtifactError(f"{where}: expected an object, got {type(data).__name__}")
        name, shape, dtype = data.get("name"), data.get("shape"), data.get("dtype")
        bound = data.get("upper_bound")
        if not isinstance(name, str) or not name:
            raise ArtifactError(f"{where}: 'name' must be a non-empty string")
        if not isinstance(shape, list) or not all(
                (_is_int(d) and d >= 0) or (isinstance(d, str) and _SYMBOL.fullmatch(d))
                for d in shape):
            raise ArtifactError(f"{where} '{name}': 'shape' must be a list of sizes and size "
                                "names")
        if not isinstance(dtype, str) or not _is_dtype(dtype):
            raise ArtifactError(f"{where} '{name}': unknown dtype {dtype!r}")
        if bound is not None and not (_is_int(bound) and bound > 0):
            raise ArtifactError(f"{where} '{name}': 'upper_bound' must be a positive integer")
        finite = data.get("finite")
        if finite is not None and not isinstance(finite, bool):
            raise ArtifactError(f"{where} '{name}': 'finite' must be true or false")
        return cls(name, tuple(shape), dtype, bound, finite)

    @classmethod
    def of(cls, spec: Any) -> TensorInfo:
        """The info of any object with ``name``, ``shape``, ``dtype`` and maybe ``upper_bound``."""
        return cls(spec.name, tuple(d if isinstance(d, str) else int(d) for d in spec.shape),
                   str(spec.dtype), getattr(spec, "upper_bound", None))

    @property
    def symbols(self) -> tuple[str, ...]:
        """The names of the run-time sizes in the shape."""
        return tuple(d for d in self.shape if isinstance(d, str))

    def concrete(self, sizes: dict[str, int]) -> tuple[int, ...]:
        """The shape with each run-time size given its value in ``sizes``."""
        return tuple(sizes[d] if isinstance(d, str) else d for d in self.shape)

    def describe(self) -> str:
        """``int64[1, 128]``, ``int64[batch, seq]`` -- how messages and reports show a tensor."""
        return f"{self.dtype}[{', '.join(map(str, self.shape))}]"


@dataclass(frozen=True)
class WeightDecision:
    """What the sparsity passes decided for one linear weight."""

    weight: str
    shape: tuple[int, int]  # [out, in]
    density: float  # nonzero elements / elements
    block_shape: str  # "RxC" or "dense"
    predicted_speedup: float | None  # over the dense kernel; None: infinite (nothing to compute)
    reason: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["shape"] = list(self.shape)
        return data

    @classmethod
    def from_json(cls, data: Any, where: str) -> WeightDecision:
        try:
            shape = tuple(int(d) for d in data["shape"])
            speedup = data["predicted_speedup"]
            decision = cls(str(data["weight"]), (shape[0], shape[1]), float(data["density"]),
                           str(data["block_shape"]), None if speedup is None else float(speedup),
                           str(data["reason"]))
        except (TypeError, KeyError, ValueError, IndexError) as err:
            raise ArtifactError(f"{where}: malformed entry ({type(err).__name__}: {err})") \
                from None
        return decision

    @property
    def speedup(self) -> float:
        """The predicted speedup, with infinity for a weight that has nothing left to compute."""
        return math.inf if self.predicted_speedup is None else self.predicted_speedup


WEIGHTS_JOINER = " + "  # between the names of the weights a combined linear stacks


@dataclass(frozen=True)
class BsrLayout:
    """Where one BSR weight's arrays are among the params, and the layout they must have.

    ``block`` is (R, C) and ``dense_shape`` (N, K), so ``indptr`` has ceil(N/R) · slices + 1
    entries rising from 0 to nnzb (a kernel that sweeps K in slices starts each block row's
    slice at its own entry, in the order of ``BsrPlan.sliced_cell``) and every entry of
    ``indices`` is a block column below ceil(K/C).
    A kernel that sweeps groups of ``sweep_rows`` block rows by block column instead has an
    ``indptr`` entry per (group, block column) and the block's row in ``indices``, a row of that
    group. The kernels trust all this, and read or write outside their buffers when it is wrong.
    """

    weight: str  # a combined linear's weights joined by WEIGHTS_JOINER, rows stacked in order
    block: tuple[int, int]
    dense_shape: tuple[int, int]
    data: str  # param names
    indices: str
    indptr: str
    slices: int = 1  # K slices of the kernel's layout (codegen/bsr_linear.py)
    sweep_rows: int = 0  # block rows per group of a column-sweep layout; 0: by block row

    @property
    def weights(self) -> tuple[str, ...]:
        """The weights these arrays hold: one, or each of a combined linear's."""
        return tuple(self.weight.split(WEIGHTS_JOINER))

    @property
    def grid(self) -> tuple[int, int]:
        """Block rows and block columns: (ceil(N/R), ceil(K/C))."""
        return (-(-self.dense_shape[0] // self.block[0]), -(-self.dense_shape[1] // self.block[1]))

    def to_json(self) -> dict[str, Any]:
        return {"weight": self.weight, "block": list(self.block),
                "dense_shape": list(self.dense_shape), "data": self.data,
                "indices": self.indices, "indptr": self.indptr, "slices": self.slices,
                "sweep_rows": self.sweep_rows}

    @classmethod
    def from_json(cls, data: Any, where: str) -> BsrLayout:
        if not isinstance(data, dict):
            raise ArtifactError(f"{where}: expected an object, got {type(data).__name__}")
        names = [data.get(key) for key in ("weight", "data", "indices", "indptr")]
        pairs = [data.get(key) for key in ("block", "dense_shape")]
        if not all(isinstance(name, str) and name for name in names):
            raise ArtifactError(f"{where}: 'weight', 'data', 'indices' and 'indptr' must be "
                                "non-empty strings")
        if not all(isinstance(pair, list) and len(pair) == 2
                   and all(_is_int(d) and d > 0 for d in pair) for pair in pairs):
            raise ArtifactError(f"{where} '{names[0]}': 'block' and 'dense_shape' must be two "
                                "positive sizes each")
        slices = data.get("slices", 1)  # artifacts from before K slices have none
        if not (_is_int(slices) and slices > 0):
            raise ArtifactError(f"{where} '{names[0]}': 'slices' must be a positive integer")
        sweep_rows = data.get("sweep_rows", 0)  # nor those from before column sweeps
        if not (_is_int(sweep_rows) and sweep_rows >= 0) or (sweep_rows and slices > 1):
            raise ArtifactError(f"{where} '{names[0]}': 'sweep_rows' must be a size, or 0 "
                                "(and 0 with K slices)")
        weight, data_name, indices, indptr = names
        return cls(weight, (pairs[0][0], pairs[0][1]), (pairs[1][0], pairs[1][1]), data_name,
                   indices, indptr, slices, sweep_rows)


@dataclass
class Manifest:
    """Everything ``manifest.json`` records; ``to_json`` / ``read_manifest`` convert it."""

    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    params: tuple[TensorInfo, ...]  # the weights the library takes after the inputs, in order
    target: dict[str, Any]  # TVM's dict form
    target_spec: str  # as the user spelled it
    threads: int  # the thread count the schedules were generated for
    pipeline: str
    weights: tuple[WeightDecision, ...]
    kernels: dict[str, int]  # kernel family -> distinct kernels the library holds
    versions: dict[str, str]
    created: str  # ISO 8601, UTC
    model: str = ""  # where the model came from, for reports
    cpu_features: tuple[str, ...] = ()  # LLVM names of the ISA extensions the code may use
    bsr: tuple[BsrLayout, ...] = ()  # the BSR weights among the params, checked at load
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # run-time size: min, max

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "model": self.model,
            "created": self.created,
            "versions": dict(self.versions),
            "target": dict(self.target),
            "target_spec": self.target_spec,
            "cpu_features": list(self.cpu_features),
            "threads": self.threads,
            "pipeline": self.pipeline,
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
            "params": [t.to_json() for t in self.params],
            "weights": [w.to_json() for w in self.weights],
            "bsr": [layout.to_json() for layout in self.bsr],
            "kernels": dict(self.kernels),
            "sizes": {name: list(bounds) for name, bounds in self.sizes.items()},
        }

    def summary(self) -> dict[str, float]:
        """Totals over the linears: BSR count, element density, and their predicted speedup.

        The speedup is the dense time of all linears together over their time with the chosen
        kernels, with each linear's dense time proportional to its size.
        """
        sizes = [w.shape[0] * w.shape[1] for w in self.weights]
        dense = float(sum(sizes))
        chosen = sum(size / w.speedup for size, w in zip(sizes, self.weights, strict=True))
        return {
            "linears": len(self.weights),
            "bsr": sum(w.block_shape != "dense" for w in self.weights),
            "density": (sum(w.density * s for w, s in zip(self.weights, sizes, strict=True))
                        / dense if dense else 1.0),
            "predicted_speedup": dense / chosen if chosen else (math.inf if dense else 1.0),
        }


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_dtype(name: str) -> bool:
    try:
        return np.dtype(name).name == name
    except TypeError:
        return False


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` into ``directory`` (stable key order, readable)."""
    text = json.dumps(manifest.to_json(), indent=2, allow_nan=False)
    (directory / MANIFEST).write_text(text + "\n", encoding="utf-8")


def write_params(directory: Path, params: list[TensorInfo], arrays: list[np.ndarray]) -> None:
    """Write the weights into ``params.npz``, one entry per name."""
    np.savez(directory / PARAMS, **{info.name: array for info, array in
                                    zip(params, arrays, strict=True)})


def read_manifest(path: str | os.PathLike) -> Manifest:
    """The manifest of the artifact directory ``path``, checked field by field."""
    directory = Path(path)
    if not directory.exists():
        raise ArtifactError(f"'{path}': no such artifact")
    if not directory.is_dir():
        raise ArtifactError(f"'{path}' is not a sparsec artifact (expected a directory made "
                            "by 'sparsec compile')")
    file = directory / MANIFEST
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"'{path}' is not a sparsec artifact: no {MANIFEST}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactError(f"'{file}' is corrupt: not valid JSON ({err})") from None
    except OSError as err:
        raise ArtifactError(f"cannot read '{file}': {err.strerror}") from None
    return _manifest_from_json(data, str(file))


_FEATURE = re.compile(r"[a-z0-9][a-z0-9._-]*")
_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")  # a run-time size's name ("batch", "seq")


def _manifest_from_json(data: Any, where: str) -> Manifest:
    if not isinstance(data, dict):
        raise ArtifactError(f"'{where}' is corrupt: expected a JSON object")
    version = data.get("manifest_version")
    if version != MANIFEST_VERSION:
        raise ArtifactError(f"'{where}' has manifest version {version!r}; this sparsec reads "
                            f"version {MANIFEST_VERSION}: recompile the model")
    required = {"inputs": list, "outputs": list, "params": list, "weights": list, "bsr": list,
                "target": dict, "kernels": dict, "versions": dict, "target_spec": str,
                "pipeline": str, "created": str, "threads": int, "cpu_features": list}
    for key, kind in required.items():
        if not isinstance(data.get(key), kind):
            raise ArtifactError(f"'{where}' is corrupt: '{key}' is missing or not a "
                                f"{kind.__name__}")
    features = data["cpu_features"]
    if not all(isinstance(f, str) and _FEATURE.fullmatch(f) for f in features):
        raise ArtifactError(f"'{where}' is corrupt: 'cpu_features' must list LLVM feature names "
                            f"such as \"avx2\", got {features!r}"[:300])

    def tensors(key: str) -> tuple[TensorInfo, ...]:
        return tuple(TensorInfo.from_json(item, f"'{where}': {key}[{i}]")
                     for i, item in enumerate(data[key]))

    manifest = Manifest(
        inputs=tensors("inputs"),
        outputs=tensors("outputs"),
        params=tensors("params"),
        target=data["target"],
        target_spec=data["target_spec"],
        threads=data["threads"],
        pipeline=data["pipeline"],
        weights=tuple(WeightDecision.from_json(w, f"'{where}': weights[{i}]")
                      for i, w in enumerate(data["weights"])),
        kernels=data["kernels"],
        versions=data["versions"],
        created=data["created"],
        model=str(data.get("model", "")),
        cpu_features=tuple(features),
        bsr=tuple(BsrLayout.from_json(b, f"'{where}': bsr[{i}]")
                  for i, b in enumerate(data["bsr"])),
        sizes=_read_sizes(data.get("sizes", {}), where),
    )
    _check_references(manifest, where)
    return manifest


def _read_sizes(data: Any, where: str) -> dict[str, tuple[int, int]]:
    """The ``sizes`` entry: each run-time size's [min, max]."""
    if not isinstance(data, dict):
        raise ArtifactError(f"'{where}' is corrupt: 'sizes' must be an object")
    sizes = {}
    for name, bounds in data.items():
        if not (_SYMBOL.fullmatch(name) and isinstance(bounds, list) and len(bounds) == 2
                and all(_is_int(b) for b in bounds) and 1 <= bounds[0] <= bounds[1]):
            raise ArtifactError(f"'{where}' is corrupt: sizes['{name}'] must be [min, max] "
                                "with 1 <= min <= max")
        sizes[name] = (bounds[0], bounds[1])
    return sizes


def _check_references(manifest: Manifest, where: str) -> None:
    """Names are unique, every weight says whether it is finite, BSR layouts name weights."""
    params = {info.name: info for info in manifest.params}
    for info in (*manifest.inputs, *manifest.outputs):
        unknown = [d for d in info.symbols if d not in manifest.sizes]
        if unknown:
            raise ArtifactError(f"'{where}' is corrupt: '{info.name}' has the size "
                                f"'{unknown[0]}' that 'sizes' does not list")
    for key, infos in (("inputs", manifest.inputs), ("params", manifest.params)):
        names = [info.name for info in infos]
        if len(set(names)) != len(names):
            raise ArtifactError(f"'{where}' is corrupt: a name appears twice in '{key}'")
    unmarked = [info.name for info in manifest.params if info.finite is None]
    if unmarked:
        raise ArtifactError(f"'{where}': params '{unmarked[0]}': 'finite' is missing")
    for i, layout in enumerate(manifest.bsr):
        for role in ("data", "indices", "indptr"):
            info = params.get(getattr(layout, role))
            if info is None:
                raise ArtifactError(f"'{where}': bsr[{i}] '{layout.weight}': {role} "
                                    f"'{getattr(layout, role)}' is not among the params")
            integer = np.dtype(info.dtype).kind in "iu"  # indices: uint16 where they fit
            if role != "data" and (len(info.shape) != 1 or not integer):
                raise ArtifactError(f"'{where}': bsr[{i}] '{layout.weight}': {role} is "
                                    f"{info.describe()}, expected a 1-D integer array")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def write_checksums(directory: Path) -> None:
    """Write ``SHA256SUMS`` for the artifact's files (last: the files must be complete)."""
    lines = [f"{file_sha256(directory / name)}  {name}\n" for name in CHECKED_FILES]
    (directory / CHECKSUMS).write_text("".join(lines), encoding="ascii")


def verify_checksums(path: str | os.PathLike) -> None:
    """Every file of the artifact ``path`` has the SHA-256 its ``SHA256SUMS`` lists."""
    directory = Path(path)
    expected = _read_checksums(directory)
    for name in CHECKED_FILES:
        file = directory / name
        try:
            digest = file_sha256(file)
        except FileNotFoundError:
            raise ArtifactError(f"artifact '{path}' is incomplete: no {name}") from None
        except OSError as err:
            raise ArtifactError(f"cannot read '{file}': {err.strerror}") from None
        if digest != expected[name]:
            raise ArtifactError(f"'{file}' has changed since the artifact was written (its "
                                f"SHA-256 differs from the one in {CHECKSUMS}): recompile the "
                                "model or restore the file")


def _read_checksums(directory: Path) -> dict[str, str]:
    """``SHA256SUMS`` as name -> hex digest; exactly the artifact's files, each once."""
    file = directory / CHECKSUMS
    try:
        text = file.read_text(encoding="ascii")
    except FileNotFoundError:
        raise ArtifactError(f"artifact '{directory}' is incomplete: no {CHECKSUMS}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ArtifactError(f"cannot read '{file}': {err}") from None
    sums: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.fullmatch(r"([0-9a-f]{64}) [ *](\S+)", line)
        if match is None or match[2] in sums:
            raise ArtifactError(f"'{file}' is corrupt at line {number}: expected "
                                "'<sha256>  <file>' once per file")
        sums[match[2]] = match[1]
    if sorted(sums) != sorted(CHECKED_FILES):
        raise ArtifactError(f"'{file}' is corrupt: it lists {sorted(sums)}, expected "
                            f"{sorted(CHECKED_FILES)}")
    return sums


def check_library(path: str | os.PathLike) -> Path:
    """The artifact's library, once it is whole.

    ``dlopen`` maps the file's segments and dies of SIGBUS on a page past the end of a
    truncated one, so an ELF file's segments and section table must lie inside it (other
    formats are left to the loader, which refuses what it cannot read).
    """
    library = Path(path) / LIBRARY
    if not library.is_file():
        raise ArtifactError(f"artifact '{path}' is incomplete: no {LIBRARY}")
    try:
        with library.open("rb") as file:
            problem = _elf_problem(file.read(), library.stat().st_size)
    except OSError as err:
        raise ArtifactError(f"cannot read '{library}': {err.strerror}") from None
    if problem:
        raise ArtifactError(f"'{library}' is corrupt: {problem}")
    return library


def _elf_problem(image: bytes, size: int) -> str:
    """What is wrong with a 64-bit little-endian ELF image of ``size`` bytes, or ""."""
    if image[:4] != b"\x7fELF":
        return ""
    if len(image) < 64 or image[4] != 2 or image[5] != 1:
        return "not a 64-bit little-endian ELF library"
    phoff, shoff = struct.unpack_from("<QQ", image, 32)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", image, 54)
    if phentsize < 56:
        return f"its program headers are {phentsize} bytes long, not 56"
    if phoff + phnum * phentsize > size or shoff + shnum * shentsize > size:
        return f"truncated ({size} bytes): its headers lie past the end of the file"
    for index in range(phnum):
        offset, filesz = struct.unpack_from("<8xQ16xQ", image, phoff + index * phentsize)
        if offset + filesz > size:
            return f"truncated ({size} bytes): segment {index} ends at byte {offset + filesz}"
    return ""


def read_params(path: str | os.PathLike, manifest: Manifest) -> list[np.ndarray]:
    """The weights of the artifact ``path`` in manifest order, once each has the manifest's
    shape and dtype, every finite weight is still finite and every BSR triple is well formed."""
    file = Path(path) / PARAMS
    try:
        with np.load(file, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise ArtifactError(f"artifact '{path}' is incomplete: no {PARAMS}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ArtifactError(f"'{file}' is corrupt ({err})") from None
    expected = [info.name for info in manifest.params]
    missing = [name for name in expected if name not in arrays]
    if missing or len(arrays) != len(expected):
        extra = sorted(set(arrays) - set(expected))
        raise ArtifactError(f"'{file}' does not match the manifest: missing {missing or 'none'}, "
                            f"unexpected {extra or 'none'}")
    for info in manifest.params:
        arrays[info.name] = _checked_param(file, info, arrays[info.name])
    for layout in manifest.bsr:
        _check_bsr(file, layout, arrays)
    return [arrays[name] for name in expected]


def _checked_param(file: Path, info: TensorInfo, array: np.ndarray) -> np.ndarray:
    """``array`` in native byte order, once its shape, dtype and values fit ``info``."""
    if array.shape != info.shape or array.dtype.name != info.dtype:
        raise ArtifactError(f"'{file}': weight '{info.name}' is {array.dtype.name}"
                            f"{list(array.shape)}, the manifest says {info.describe()}")
    if not array.dtype.isnative:  # the same values; the kernels read native order only
        array = array.astype(array.dtype.newbyteorder("="))
    if info.finite and array.dtype.kind in "fc" and not np.isfinite(array).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ArtifactError(f"'{file}': weight '{info.name}' holds {array[index]} at index "
                            f"{list(index)}; it was finite when the artifact was written")
    return array


def _check_bsr(file: Path, layout: BsrLayout, arrays: dict[str, np.ndarray]) -> None:
    """The invariants of a BSR triple the kernels rely on (see ``BsrLayout``)."""
    data, indices, indptr = (arrays[layout.data], arrays[layout.indices], arrays[layout.indptr])
    rows, cols = layout.grid
    nnzb = indices.shape[0]

    def bad(problem: str) -> ArtifactError:
        return ArtifactError(f"'{file}': BSR weight '{layout.weight}' is corrupt: {problem}")

    if data.ndim != 3 or data.shape[0] != nnzb or data.shape[1] * data.shape[2] != math.prod(
            layout.block):
        raise bad(f"data {list(data.shape)} does not hold {nnzb} blocks of "
                  f"{layout.block[0]}x{layout.block[1]}")
    cells = -(-rows // layout.sweep_rows) * cols if layout.sweep_rows else rows * layout.slices
    if indptr.shape != (cells + 1,):
        raise bad(f"indptr has {indptr.shape[0]} entries, expected {cells + 1}")
    if indptr[0] != 0 or indptr[-1] != nnzb:
        raise bad(f"indptr runs from {indptr[0]} to {indptr[-1]}, expected 0 to {nnzb}")
    if (np.diff(indptr) < 0).any():
        cell = int(np.argmax(np.diff(indptr) < 0))
        where = (f"group {cell // cols}, block column {cell % cols}" if layout.sweep_rows
                 else f"block row {cell}" if layout.slices == 1 else f"K-slice cell {cell}")
        raise bad(f"indptr decreases after {where}")
    if layout.sweep_rows:
        _check_swept_rows(indices, indptr, layout, cols, bad)
    elif nnzb and (indices.min() < 0 or indices.max() >= cols):
        value = indices.min() if indices.min() < 0 else indices.max()
        raise bad(f"block column {value} in indices is outside 0..{cols - 1}")


def _check_swept_rows(indices: np.ndarray, indptr: np.ndarray, layout: BsrLayout, cols: int,
                      bad: Callable[[str], ArtifactError]) -> None:
    """Every block of a column-sweep layout names a block row of its own group."""
    group = np.repeat(np.arange(len(indptr) - 1) // cols, np.diff(indptr))
    first = group * layout.sweep_rows
    outside = (indices < first) | (indices >= np.minimum(first + layout.sweep_rows,
                                                         layout.grid[0]))
    if outside.any():
        j = int(np.argmax(outside))
        raise bad(f"block row {indices[j]} in indices is outside its group "
                  f"{first[j]}..{min(first[j] + layout.sweep_rows, layout.grid[0]) - 1}")
