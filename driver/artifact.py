"""The compiled artifact: a directory holding the library, the weights and a JSON manifest.

    bert.sparsec/
        model.so        the exported TVM library (Relax VM; ``main`` takes inputs..., params...)
        params.npz      the weights, one entry per name in the manifest's ``params``, in order
        manifest.json   inputs, outputs, target, versions, per-weight sparsity decisions

Reading a manifest needs neither torch nor tvm: ``sparsec run --help``-style tools and the input
checks work from the manifest alone. Every problem with an artifact on disk (missing, not JSON,
wrong version, missing or mismatched files) is an ``ArtifactError`` with a one-line message.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sparsec.errors import UserError

MANIFEST_VERSION = 1
LIBRARY = "model.so"
PARAMS = "params.npz"
MANIFEST = "manifest.json"


class ArtifactError(UserError):
    """An artifact that cannot be opened: missing, corrupt, or from another version."""


@dataclass(frozen=True)
class TensorInfo:
    """One input, output or weight of a compiled model, as the manifest records it.

    ``upper_bound`` is an exclusive bound on the values (token ids < vocabulary size); an input
    with a bound is an index, so its values must also be at least 0.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name
    upper_bound: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "upper_bound": self.upper_bound}

    @classmethod
    def from_json(cls, data: Any, where: str) -> TensorInfo:
        """Parse and check one manifest entry; ``where`` names it in errors."""
        if not isinstance(data, dict):
            raise ArtifactError(f"{where}: expected an object, got {type(data).__name__}")
        name, shape, dtype = data.get("name"), data.get("shape"), data.get("dtype")
        bound = data.get("upper_bound")
        if not isinstance(name, str) or not name:
            raise ArtifactError(f"{where}: 'name' must be a non-empty string")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise ArtifactError(f"{where} '{name}': 'shape' must be a list of sizes")
        if not isinstance(dtype, str) or not _is_dtype(dtype):
            raise ArtifactError(f"{where} '{name}': unknown dtype {dtype!r}")
        if bound is not None and not (_is_int(bound) and bound > 0):
            raise ArtifactError(f"{where} '{name}': 'upper_bound' must be a positive integer")
        return cls(name, tuple(shape), dtype, bound)

    @classmethod
    def of(cls, spec: Any) -> TensorInfo:
        """The info of any object with ``name``, ``shape``, ``dtype`` and maybe ``upper_bound``."""
        return cls(spec.name, tuple(int(d) for d in spec.shape), str(spec.dtype),
                   getattr(spec, "upper_bound", None))

    def describe(self) -> str:
        """``int64[1, 128]`` -- how error messages and reports show a tensor."""
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
    library_sha256: str = ""  # checked before loading: a damaged library crashes dlopen

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "model": self.model,
            "created": self.created,
            "versions": dict(self.versions),
            "target": dict(self.target),
            "target_spec": self.target_spec,
            "threads": self.threads,
            "pipeline": self.pipeline,
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
            "params": [t.to_json() for t in self.params],
            "weights": [w.to_json() for w in self.weights],
            "kernels": dict(self.kernels),
            "library_sha256": self.library_sha256,
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


def _manifest_from_json(data: Any, where: str) -> Manifest:
    if not isinstance(data, dict):
        raise ArtifactError(f"'{where}' is corrupt: expected a JSON object")
    version = data.get("manifest_version")
    if version != MANIFEST_VERSION:
        raise ArtifactError(f"'{where}' has manifest version {version!r}; this sparsec reads "
                            f"version {MANIFEST_VERSION}: recompile the model")
    required = {"inputs": list, "outputs": list, "params": list, "weights": list,
                "target": dict, "kernels": dict, "versions": dict, "target_spec": str,
                "pipeline": str, "created": str, "threads": int, "library_sha256": str}
    for key, kind in required.items():
        if not isinstance(data.get(key), kind):
            raise ArtifactError(f"'{where}' is corrupt: '{key}' is missing or not a "
                                f"{kind.__name__}")

    def tensors(key: str) -> tuple[TensorInfo, ...]:
        return tuple(TensorInfo.from_json(item, f"'{where}': {key}[{i}]")
                     for i, item in enumerate(data[key]))

    return Manifest(
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
        library_sha256=data["library_sha256"],
    )


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def check_library(path: str | os.PathLike, manifest: Manifest) -> Path:
    """The artifact's library, once its checksum matches the manifest.

    A truncated or damaged shared library can crash the process inside ``dlopen`` (SIGBUS
    on pages past the end of the file), so it is checked before it is ever loaded.
    """
    library = Path(path) / LIBRARY
    if not library.is_file():
        raise ArtifactError(f"artifact '{path}' is incomplete: no {LIBRARY}")
    if file_sha256(library) != manifest.library_sha256:
        raise ArtifactError(f"'{library}' is corrupt: its checksum does not match the manifest")
    return library


def read_params(path: str | os.PathLike, manifest: Manifest) -> list[np.ndarray]:
    """The weights of the artifact ``path``, checked against the manifest, in its order."""
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
        array = arrays[info.name]
        if array.shape != info.shape or array.dtype.name != info.dtype:
            raise ArtifactError(f"'{file}': weight '{info.name}' is {array.dtype.name}"
                                f"{list(array.shape)}, the manifest says {info.describe()}")
    return [arrays[name] for name in expected]
