"""Check a model file before torch reads it: intact, complete, and free of code that loading runs.

``torch.export.load`` trusts its archive: it unpickles the sample inputs and any
``use_pickle`` weight or constant with ``weights_only=False`` (after a failed
weights-only try), ``pickle.loads`` opaque constants, loads AOTInductor shared
libraries, and hands every symbolic-shape string of ``models/*.json`` to
``sympy.sympify``, which ``eval``s it. So before torch sees an archive, every
member it would read that way is checked here:

- the zip is readable, its names unique, and every member's CRC matches;
- each member torch would unpickle loads with ``torch.load(weights_only=True)``
  (torch's own allowlist of tensor-building globals); the ordinary archive's
  sample inputs do;
- opaque / TorchBind objects and compiled AOTInductor code are refused;
- symbolic expressions use only numbers, operators, shape symbols and known
  sympy / torch functions;
- every weight and constant the configs name exists and holds enough bytes.

A TorchScript archive (``torch.jit.save``) is loaded by torch's own C++ reader,
which resolves pickled class names against the archive's TorchScript code and
imports no Python; but loading runs any ``__setstate__`` method of that code
(which may call ``torch.save`` and write files). So ``check_torchscript_archive``
requires every global its pickles name to be a TorchScript class or a tensor
builder, no TorchBind object, and no ``__setstate__`` in its code.

Anything refused is a ``FrontendError`` naming the file and the member, unless
``allow_pickle`` says the file is trusted (then only damage is refused).
Everything is read from ``checked_copy``, a fresh zip of exactly the checked
members, torch included: a zip that Python's and torch's readers would parse
differently (or a file changed after the check) cannot slip another member past.
"""

from __future__ import annotations

import io
import json
import pickle
import pickletools
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import torch
from torch.export.pt2_archive import constants as pt2

from .errors import FrontendError

CHUNK = 1 << 20
# Names a symbolic expression of torch.export may call (sympy printing of shape guards).
SYMPY_NAMES = frozenset({
    "FloorDiv", "ModularIndexing", "Where", "PythonMod", "Mod", "CleanDiv", "CeilToInt",
    "FloorToInt", "CeilDiv", "LShift", "RShift", "PowByNatural", "FloatPow", "FloatTrueDiv",
    "IntTrueDiv", "IsNonOverlappingAndDenseIndicator", "TruncToFloat", "TruncToInt",
    "RoundToInt", "RoundDecimal", "ToFloat", "Identity", "BitwiseFn_bitwise_and",
    "BitwiseFn_bitwise_or", "BitwiseFn_bitwise_xor", "OpaqueUnaryFn_sqrt", "Max", "Min", "Abs",
    "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "And", "Or", "Not", "floor", "ceiling", "sqrt", "oo",
    "zoo", "nan", "True", "False", "true", "false", "Integer", "Rational", "Float",
    # sympy's srepr, how torch 2.13 writes a dynamic size: Symbol('s27', positive=True, ...)
    "Symbol", "Add", "Mul", "Pow", "positive", "negative", "nonnegative", "nonpositive",
    "integer", "real", "finite", "nonzero",
})
SHAPE_SYMBOL = re.compile(r"[a-z]{1,4}\d+")  # s0, u3, zuf1, ...: torch's SymT prefixes
EXPR_TOKEN = re.compile(  # a quoted string may only be a shape symbol's name
    r"\s+|[A-Za-z_]\w*|'[a-z]{1,4}\d+'|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\*\*|//|[-+*/%(),<>=!&|~]"
)


@contextmanager
def checked_copy(path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A temporary copy of the zip at ``path`` and its member names, every member checked.

    Each member is read whole (its CRC checked) and written to a fresh zip made
    here; all later reading, torch's included, uses that copy. A damaged
    central directory, a duplicated name (torch and Python could pick different
    copies) or a member that does not read back intact is a ``FrontendError``
    naming the member where there is one.
    """
    with tempfile.TemporaryDirectory(prefix="sparsec-") as folder:
        copy = Path(folder) / "model.pt2"  # torch.export.load warns about other suffixes
        yield copy, _copy_members(path, copy)


def _copy_members(path: Path, copy: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive, zipfile.ZipFile(copy, "w") as target:
            members = archive.infolist()
            _check_unique_names(path, members)
            for member in members:
                _copy_member(path, archive, member, target)
    except FrontendError:
        raise
    except UnicodeDecodeError as err:  # a flipped bit in a UTF-8 member name
        name = _printable(err.object.decode("utf-8", "replace"))
        raise FrontendError(f"'{path}' is damaged: the zip directory entry of member '{name}' "
                            "has an invalid name") from None
    except Exception as err:  # zipfile raises many kinds on a damaged directory
        raise FrontendError(f"'{path}' is a damaged or truncated zip archive "
                            f"({_first_line(err)})") from None
    return [member.filename for member in members]


def _check_unique_names(path: Path, members: list[zipfile.ZipInfo]) -> None:
    seen: set[str] = set()
    for member in members:
        key = member.filename.lower()  # torch's zip reader looks names up ignoring case
        if key in seen:
            raise FrontendError(f"'{path}' is damaged or ambiguous: member "
                                f"'{_printable(member.filename)}' appears twice")
        seen.add(key)


def _copy_member(path: Path, archive: zipfile.ZipFile, member: zipfile.ZipInfo,
                 target: zipfile.ZipFile) -> None:
    if member.compress_type == zipfile.ZIP_STORED and member.compress_size != member.file_size:
        # Python reads file_size bytes and would pass; torch's reader checks both sizes.
        raise FrontendError(f"'{path}' is damaged: the zip directory gives member "
                            f"'{_printable(member.filename)}' two different sizes")
    info = zipfile.ZipInfo(member.filename, date_time=member.date_time)
    try:
        with archive.open(member) as source, \
                target.open(info, "w", force_zip64=member.file_size > 1 << 31) as copy:
            shutil.copyfileobj(source, copy, CHUNK)
    except Exception as err:  # BadZipFile (CRC, header), zlib.error, EOFError, ...
        raise FrontendError(f"'{path}' is damaged: member '{_printable(member.filename)}' does "
                            f"not read back intact ({_first_line(err)})") from None


def check_export_archive(copy: Path, names: list[str], allow_pickle: bool,
                         shown: Path) -> None:
    """Refuse an export archive that is incomplete or would run code when loaded.

    ``copy`` and ``names`` come from ``checked_copy``; messages name ``shown``.
    """
    with zipfile.ZipFile(copy) as archive:
        _Reader(shown, archive, _records(shown, names), allow_pickle).check()


def _records(path: Path, names: list[str], kind: str = "torch.export") -> dict[str, str]:
    """Record name (below the one top folder torch expects) -> member name."""
    top = names[0].split("/", 1)[0] if names else ""
    stray = [name for name in names if "/" not in name or name.split("/", 1)[0] != top]
    if stray:
        raise FrontendError(f"'{path}' is not a well-formed {kind} archive: member "
                            f"'{_printable(stray[0])}' is outside its top folder '{top}'")
    return {name.split("/", 1)[1]: name for name in names if not name.endswith("/")}


class _Reader:
    """Walks the records ``torch.export.load`` would read, checking each the way torch uses it."""

    def __init__(self, path: Path, archive: zipfile.ZipFile, records: dict[str, str],
                 allow_pickle: bool) -> None:
        self.path, self.archive, self.records = path, archive, records
        self.allow_pickle = allow_pickle

    def check(self) -> None:
        if not self.allow_pickle:
            for record in self.records:
                if record.startswith((pt2.AOTINDUCTOR_DIR, pt2.MTIA_DIR)):
                    self._refuse(record, "holds compiled native code that loading would run")
        models = [r for r in sorted(self.records) if r.startswith(pt2.MODELS_DIR)]
        if not models:
            raise FrontendError(f"torch.export archive '{self.path}' holds no program "
                                f"(no {pt2.MODELS_DIR}*.json member)")
        for record in models:
            name = record[len(pt2.MODELS_DIR):-len(".json")]  # as torch derives it
            self._check_program(record)
            self._check_pickle(pt2.SAMPLE_INPUTS_FILENAME_FORMAT.format(name), required=True)
            self._check_payloads(name, pt2.WEIGHTS_DIR, pt2.WEIGHTS_CONFIG_FILENAME_FORMAT)
            self._check_payloads(name, pt2.CONSTANTS_DIR, pt2.CONSTANTS_CONFIG_FILENAME_FORMAT)

    # -- members ------------------------------------------------------------------------------

    def _member(self, record: str) -> str:
        return _printable(self.records.get(record, record))

    def _read(self, record: str) -> bytes:
        if record not in self.records:
            raise FrontendError(f"torch.export archive '{self.path}' is incomplete: it has no "
                                f"member '{_printable(record)}'")
        return self.archive.read(self.records[record])

    def _json(self, record: str) -> Any:
        try:
            return json.loads(self._read(record).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise FrontendError(f"'{self.path}' is damaged: member '{self._member(record)}' is "
                                f"not valid JSON ({_first_line(err)})") from None

    def _refuse(self, record: str, why: str) -> None:
        raise FrontendError(f"'{self.path}': member '{self._member(record)}' {why}; pass "
                            "--allow-pickle (allow_pickle=True) only if you trust the file")

    # -- what torch would evaluate or unpickle ------------------------------------------------

    def _check_program(self, record: str) -> None:
        """Every symbolic expression torch would ``sympify`` (an ``eval``) is plain arithmetic."""
        program = self._json(record)
        for expr in _expr_strings(program):
            bad = _bad_expr_name(expr)
            if bad is not None:
                raise FrontendError(f"'{self.path}': member '{self._member(record)}' holds a "
                                    f"symbolic shape expression that is not arithmetic "
                                    f"({bad!r} in {expr[:60]!r}); torch would evaluate it as "
                                    "Python code")

    def _check_pickle(self, record: str, required: bool = False) -> None:
        """A member torch unpickles must load with torch's weights-only unpickler."""
        if record not in self.records and not required:
            return
        data = self._read(record)
        if self.allow_pickle:
            return
        check_weights_only(io.BytesIO(data), f"'{self.path}': member '{self._member(record)}'")

    def _check_payloads(self, name: str, folder: str, config_format: str) -> None:
        legacy = f"{folder}{name}.pt"
        if legacy in self.records:  # the old single-file layout, unpickled as a whole
            self._check_pickle(legacy)
            return
        config_record = config_format.format(name)
        config = self._json(config_record)
        entries = config.get("config") if isinstance(config, dict) else None
        if not isinstance(entries, dict):
            raise FrontendError(f"'{self.path}' is damaged: member "
                                f"'{self._member(config_record)}' is not a payload config")
        for fqn, entry in entries.items():
            self._check_payload(fqn, entry, folder, config_record)

    def _check_payload(self, fqn: str, entry: Any, folder: str, config_record: str) -> None:
        file_name = entry.get("path_name") if isinstance(entry, dict) else None
        if not isinstance(file_name, str) or not _plain_name(file_name):
            raise FrontendError(f"'{self.path}' is damaged: member "
                                f"'{self._member(config_record)}' gives '{_printable(fqn)}' "
                                "no valid file")
        record = folder + file_name
        if file_name.startswith((pt2.CUSTOM_OBJ_FILENAME_PREFIX, pt2.OPAQUE_OBJ_FILENAME_PREFIX)):
            self._read(record)
            if not self.allow_pickle:
                self._refuse(record, "is a pickled Python object that loading would run")
        elif entry.get("use_pickle"):
            self._check_pickle(record, required=True)
        else:
            self._check_tensor_size(fqn, entry, record)

    def _check_tensor_size(self, fqn: str, entry: dict, record: str) -> None:
        """A raw tensor member holds at least the bytes its shape, strides and offset reach."""
        if record not in self.records:
            self._read(record)  # raises: incomplete
        needed = _needed_bytes(entry.get("tensor_meta"))
        if needed is None:
            raise FrontendError(f"'{self.path}' is damaged: the tensor metadata of "
                                f"'{_printable(fqn)}' is not valid")
        size = self.archive.getinfo(self.records[record]).file_size
        if size < needed:
            raise FrontendError(f"'{self.path}' is damaged: member '{self._member(record)}' "
                                f"holds {size} bytes but '{_printable(fqn)}' needs {needed}")


# -- TorchScript archives (torch.jit.save) -------------------------------------------------------

TORCHSCRIPT_REQUIRED = ("data.pkl", "constants.pkl")
# What torch's TorchScript pickler writes besides TorchScript classes, as GLOBAL spells it.
TORCHSCRIPT_GLOBALS = frozenset({
    "collections OrderedDict", "torch._utils _rebuild_tensor_v2",
    *(f"torch.jit._pickle {name}" for name in (
        "restore_type_tag", "build_intlist", "build_tensorlist", "build_doublelist",
        "build_boollist", "build_tensor_from_id")),
    *(f"torch {name}" for name in torch.storage._dtype_to_storage_type_map().values()),
})
TORCHBIND_PREFIX = "__torch__.torch.classes"  # native C++ objects, rebuilt by their own code


def is_torchscript(names: list[str]) -> bool:
    """Whether a zip is a TorchScript archive (torch tells one by its ``constants.pkl``)."""
    return any(name.endswith("/constants.pkl") for name in names)


def check_torchscript_archive(copy: Path, names: list[str], allow_pickle: bool,
                              shown: Path) -> None:
    """Refuse a TorchScript archive that is incomplete or whose loading would run code.

    Every pickle may name only TorchScript classes and tensor builders (no
    TorchBind object), and the code may define no ``__setstate__``: torch.jit.load
    runs that method. ``copy`` and ``names`` come from ``checked_copy``; messages
    name ``shown``.
    """
    records = _records(shown, names, "TorchScript")
    missing = [r for r in TORCHSCRIPT_REQUIRED if r not in records]
    code = sorted(r for r in records if r.startswith("code/") and r.endswith(".py"))
    if missing or not code:
        what = f"member '{missing[0]}'" if missing else "TorchScript code (code/*.py)"
        raise FrontendError(f"TorchScript archive '{shown}' is incomplete: it has no {what}")
    if allow_pickle:
        return
    with zipfile.ZipFile(copy) as archive:
        for record in sorted(records):
            member = records[record]
            if record.endswith((".pkl", ".debug_pkl")):
                _check_script_pickle(shown, member, archive.read(member))
            elif record in code and b"__setstate__" in archive.read(member):
                _refuse_member(shown, member, "defines __setstate__, TorchScript code that "
                               "loading would run")


def _check_script_pickle(path: Path, member: str, data: bytes) -> None:
    """Every global the pickle names is a TorchScript class or a tensor builder."""
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name in ("GLOBAL", "INST") and not _script_global(str(arg)):
                module, _, name = str(arg).partition(" ")
                what = ("a TorchBind object, which loading rebuilds with native code"
                        if module.startswith(TORCHBIND_PREFIX) else
                        f"the Python object '{_printable(module)}.{_printable(name)}'")
                _refuse_member(path, member, f"is a pickle naming {what}")
            elif opcode.name in ("STACK_GLOBAL", "EXT1", "EXT2", "EXT4"):
                _refuse_member(path, member, "is a pickle that looks up an object by a "
                               "computed name")
    except FrontendError:
        raise
    except Exception as err:  # pickletools raises ValueError and others on a damaged pickle
        raise FrontendError(f"'{path}' is damaged: member '{_printable(member)}' is not a "
                            f"valid pickle ({_first_line(err)})") from None


def _script_global(arg: str) -> bool:
    module = arg.partition(" ")[0]
    if module == "__torch__" or module.startswith("__torch__."):
        return not module.startswith(TORCHBIND_PREFIX)
    return arg in TORCHSCRIPT_GLOBALS


def _refuse_member(path: Path, member: str, why: str) -> None:
    raise FrontendError(f"'{path}': member '{_printable(member)}' {why}; pass --allow-pickle "
                        "(allow_pickle=True) only if you trust the file")


def traced_input_types(copy: Path, names: list[str],
                       shown: Path) -> list[tuple[tuple[int, ...], torch.dtype]] | None:
    """Shape and dtype of each input ``torch.jit.trace`` recorded for ``forward``, if any.

    torch stores them in ``traced_inputs.pkl`` (without their values). The pickle
    is read by torch's weights-only unpickler (tensor builders and torch's no-op
    type tag only), onto the meta device: nothing is allocated or run.
    """
    import torch.jit._pickle
    from torch import _weights_only_unpickler

    record = _records(shown, names, "TorchScript").get("traced_inputs.pkl")
    if record is None:
        return None
    with zipfile.ZipFile(copy) as archive:
        data = archive.read(record)
    unpickler = _weights_only_unpickler.Unpickler(io.BytesIO(data), encoding="utf-8")
    unpickler.persistent_load = _meta_storage
    try:
        with torch.serialization.safe_globals([torch.jit._pickle.restore_type_tag]):
            value = unpickler.load()
    except Exception as err:  # a damaged or hostile pickle fails in many ways
        raise FrontendError(f"'{shown}': member '{_printable(record)}' is damaged or holds "
                            f"more than tensors ({torch_message(err)})") from None
    inputs = value.get("forward") if isinstance(value, dict) else None
    if not isinstance(inputs, list | tuple) or not all(isinstance(t, torch.Tensor)
                                                       for t in inputs):
        return None
    return [(tuple(t.shape), t.dtype) for t in inputs]


def _meta_storage(pid: Any) -> torch.storage.TypedStorage:
    """A data-less storage for a persistent id ``('storage', type, key, location, numel)``."""
    dtype = getattr(pid[1], "dtype", None) if isinstance(pid, tuple) and len(pid) == 5 else None
    if not isinstance(dtype, torch.dtype) or type(pid[4]) is not int or pid[4] < 0:
        raise pickle.UnpicklingError(f"not a storage reference: {pid!r}"[:80])
    storage = torch.UntypedStorage(pid[4] * dtype.itemsize, device="meta")
    return torch.storage.TypedStorage(wrap_storage=storage, dtype=dtype, _internal=True)


def check_weights_only(file: io.BytesIO | Path, what: str) -> None:
    """``file`` must load with ``torch.load(weights_only=True)``: only tensors and containers.

    Refused with a ``FrontendError`` starting with ``what`` otherwise (a pickle
    that would import or call anything else, or a damaged one).
    """
    mmap = isinstance(file, Path) and zipfile.is_zipfile(file)
    if mmap and _zip_is_torchscript(file):
        raise FrontendError(f"{what} is a TorchScript archive (torch.jit.save), not a file of "
                            "weights")
    try:
        torch.load(file, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError:
        raise FrontendError(f"{what} is a pickle that would run code when loaded (it needs more "
                            "than tensors and plain containers); pass --allow-pickle "
                            "(allow_pickle=True) only if you trust the file") from None
    except Exception as err:  # a damaged pickle fails in many ways
        raise FrontendError(f"{what} is damaged ({torch_message(err)})") from None


def _zip_is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return is_torchscript(archive.namelist())
    except Exception:  # a damaged zip: torch.load reports it
        return False


def _expr_strings(node: Any) -> Iterator[str]:
    """Every ``expr_str`` value in a serialized program (any depth)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            value = item.get("expr_str")
            if value is not None:
                yield value if isinstance(value, str) else repr(value)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _bad_expr_name(expr: str) -> str | None:
    """The first token of ``expr`` not a number, operator, shape symbol or known function."""
    position = 0
    while position < len(expr):
        match = EXPR_TOKEN.match(expr, position)
        if match is None:
            return expr[position]
        token = match.group()
        if (token[0].isalpha() or token[0] == "_") and token not in SYMPY_NAMES \
                and not SHAPE_SYMBOL.fullmatch(token):
            return token
        position = match.end()
    return None


def _plain_name(name: str) -> bool:
    return bool(name) and PurePosixPath(name).name == name and name not in (".", "..") \
        and "\\" not in name


def _needed_bytes(meta: Any) -> int | None:
    """Bytes a strided tensor reaches: (offset + sum((size-1)*stride) + 1) * element size."""
    from torch._export.serde.serialize import deserialize_scalar_type

    try:
        sizes = [s["as_int"] for s in meta["sizes"]]
        strides = [s["as_int"] for s in meta["strides"]]
        offset = meta["storage_offset"]["as_int"]
        element = torch._utils._element_size(deserialize_scalar_type(meta["dtype"]))
    except (KeyError, TypeError, IndexError, ValueError, RuntimeError):
        return None
    numbers = [*sizes, *strides, offset]
    if not all(type(n) is int and n >= 0 for n in numbers) or len(sizes) != len(strides):
        return None
    if 0 in sizes:
        return 0
    return (offset + sum((s - 1) * t for s, t in zip(sizes, strides, strict=True)) + 1) * element


def _printable(text: str) -> str:
    """``text`` with control characters escaped, so that a hostile name cannot break the line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]


# torch's ways of advising to unpickle anyway (a sentence holding one is dropped, with the rest).
UNSAFE_ADVICE = (("weights_only", "False"), ("can still be loaded",), ("Re-running",))


def torch_message(err: BaseException) -> str:
    """The first line of a torch error, cut before any advice to load with
    ``weights_only=False`` (which runs the file's code: never the way out for a user)."""
    text = _first_line(err)
    sentences = re.split(r"(?<=[.!?])\s+", text)
    kept = []
    for sentence in sentences:
        if any(all(word in sentence for word in advice) for advice in UNSAFE_ADVICE):
            break
        kept.append(sentence)
    return " ".join(kept) or type(err).__name__
