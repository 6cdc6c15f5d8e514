"""Load a model from disk, recognising the format by content, not by file name.

- a directory with ``config.json``: a Hugging Face ``save_pretrained`` folder;
- a zip with ``*/models/model.json`` or ``*/archive_format``: a ``torch.export.save`` archive;
- a zip with ``*/constants.pkl`` (and ``*/code/``, ``*/data.pkl``): a TorchScript archive
  (``torch.jit.save``), converted to an exported program (``torchscript.py``);
- a zip with ``*/data.pkl``, or a raw pickle: a ``torch.save`` file. A state dict loads with
  ``weights_only=True``; a whole pickled ``nn.Module`` runs arbitrary code when unpickled,
  so it needs ``allow_pickle=True``.

Nothing is handed to torch unchecked: a zip's every member must read back
intact (and torch reads a fresh copy of exactly those bytes), an export archive
must pass ``archive_check.check_export_archive`` (no pickle beyond tensors, no
code, nothing missing), a TorchScript archive ``check_torchscript_archive`` (no
code run by loading) and ``torchscript.check_operators`` (no file access), a
folder's ``pytorch_model.bin`` must load weights-only, and its weights must cover
the model. No message advises ``weights_only=False``.

Hugging Face models are traced at ``batch`` x ``seq_len`` token ids; by default 1
x min(128, the longest sequence the model's position table takes). Either may be
a ``(min, max)`` range instead: the model is then exported with that size as a
run-time size (``dynamic_shapes``), axis 0 of every token input for the batch,
axis 1 for the sequence.

Anything else (missing, empty, truncated, random bytes, a JSON that is not a
model config) is a ``FrontendError`` naming the file and the problem.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import pickle
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.export import ExportedProgram

from .archive_check import (
    check_export_archive,
    check_weights_only,
    checked_copy,
    is_torchscript,
    torch_message,
)
from .errors import FrontendError
from .torchscript import load_torchscript
from .trace import has_run_time_sizes

PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
TRANSFORMERS_NAME = re.compile(rb"\btransformers(?:\.\w+)+")
FORCE_WEIGHTS_ONLY = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"  # read by torch.load on every call
# Sizes a config must give as positive integers (BERT, RoBERTa, ALBERT, ELECTRA, DistilBERT names).
POSITIVE_CONFIG_SIZES = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                         "intermediate_size", "max_position_embeddings", "embedding_size",
                         "type_vocab_size", "dim", "n_layers", "n_heads", "hidden_dim")
HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
              "pytorch_model.bin.index.json")
DEFAULT_SEQ_LEN = 128
# Models whose position ids start after the padding index (RoBERTa's create_position_ids...).
PADDING_OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert")
# The names of the run-time sizes a range exports, and the input axis each one is.
SIZE_AXES = {"batch": 0, "seq": 1}
FIXED_SHAPES = ("was saved at fixed shapes; compile the Hugging Face directory (or an export "
                "with dynamic_shapes) to get a range")

SizeOption = int | tuple[int, int] | None  # a size, a (min, max) range of one, or the default


@dataclass
class LoadedModel:
    """What a file held: an exported program, or a module to trace (with its example inputs).

    ``input_names`` name the program's inputs where its own placeholder names do not
    (a converted TorchScript model's are ``input_ids_1``, ...). ``dynamic_shapes`` is
    torch.export's argument for the module when a size was given as a range.
    """

    program: ExportedProgram | None = None
    module: torch.nn.Module | None = None
    example_inputs: tuple | dict | None = None
    input_names: tuple[str, ...] | None = None
    dynamic_shapes: dict | tuple | None = None


def load(path: str | os.PathLike, *, batch: SizeOption = None, seq_len: SizeOption = None,
         allow_pickle: bool = False, allow_missing_weights: bool = False) -> LoadedModel:
    """Open ``path`` as a model of any supported format (see the module docstring).

    ``batch`` and ``seq_len`` (None: the default, or what a TorchScript archive
    recorded) shape the example inputs of a model to trace; a ``(min, max)`` range
    exports that size as a run-time size. ``allow_pickle`` trusts the file's code;
    ``allow_missing_weights`` accepts a Hugging Face checkpoint that does not hold
    every weight of its model.
    """
    batch, seq_len = size_option("batch", batch), size_option("seq_len", seq_len)
    path = Path(path)
    if not path.exists():
        raise FrontendError(f"'{path}': no such file or directory")
    if path.is_dir():
        return load_hf_directory(path, batch=batch, seq_len=seq_len,
                                 allow_missing_weights=allow_missing_weights)
    head = _read_head(path)
    if not head:
        raise FrontendError(f"'{path}' is empty, not a model")
    if head.startswith(b"PK"):
        return _load_zip(path, allow_pickle, batch, seq_len)
    if head.startswith(PICKLE_MAGIC):
        return _load_pickle(path, allow_pickle, batch, seq_len)
    if head.lstrip().startswith(b"{"):
        raise FrontendError(f"'{path}' is a JSON file, not a model; pass the Hugging Face model "
                            "directory that holds config.json and the weights")
    if looks_like_ir(head):
        raise FrontendError(f"'{path}' is sparsec IR text, not a model; 'sparsec opt' and "
                            "'sparsec compile' read it")
    raise FrontendError(f"'{path}' is not a model: expected a torch.export archive (.pt2), "
                        "a TorchScript archive, a torch.save file, or a Hugging Face model "
                        "directory")


def looks_like_ir(head: bytes) -> bool:
    """Whether the start of a file is IR text: a module or function in generic syntax,
    possibly after ``//`` comment lines."""
    lines = [line.strip() for line in head.splitlines()]
    code = [line for line in lines if line and not line.startswith(b"//")]
    return bool(code) and code[0].startswith((b'"builtin.module"', b'"func.func"'))


def _read_head(path: Path, size: int = 4096) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(size)
    except OSError as err:
        raise FrontendError(f"cannot read '{path}': {err.strerror}") from None


def _load_zip(path: Path, allow_pickle: bool, batch: SizeOption,
              seq_len: SizeOption) -> LoadedModel:
    ranges = is_range(batch) or is_range(seq_len)
    with checked_copy(path) as (copy, names):
        if any(n.endswith(("/archive_format", "/models/model.json")) for n in names):
            check_export_archive(copy, names, allow_pickle, shown=path)
            _import_output_types(copy, [n for n in names if n.endswith(".json")])
            program = load_export_archive(copy, allow_pickle=allow_pickle, shown=path)
            if ranges and not has_run_time_sizes(program):
                raise FrontendError(f"'{path}' {FIXED_SHAPES}")
            return LoadedModel(program=program)
        if is_torchscript(names):
            if ranges:
                raise FrontendError(f"'{path}' is a TorchScript archive that {FIXED_SHAPES}")
            program, inputs = load_torchscript(copy, names, allow_pickle=allow_pickle,
                                               batch=batch, seq_len=seq_len, shown=path)
            return LoadedModel(program=program, input_names=inputs)
        if any(n.endswith("/data.pkl") for n in names):
            return _load_pickle(copy, allow_pickle, batch, seq_len, shown=path)
    raise FrontendError(f"'{path}' is a zip archive but neither a torch.export archive, a "
                        "TorchScript archive, nor a torch.save file")


def _import_output_types(path: Path, json_names: list[str]) -> None:
    """Import the transformers modules whose classes the archive names.

    An exported Hugging Face model returns a ModelOutput; torch can only rebuild
    it once transformers has registered that class with pytree, which importing
    its module does. Only modules of the installed transformers package are
    imported, never code from the file.
    """
    with zipfile.ZipFile(path) as archive:
        text = b"".join(archive.read(name) for name in json_names)
    modules = {name.rsplit(b".", 1)[0].decode() for name in TRANSFORMERS_NAME.findall(text)}
    for module in sorted(modules):
        with contextlib.suppress(Exception):  # a name that is no module, or lacks a package
            importlib.import_module(module)


def load_export_archive(path: Path, *, allow_pickle: bool = False,
                        shown: Path | None = None) -> ExportedProgram:
    """The program of a ``torch.export.save`` archive; messages name ``shown`` (or ``path``).

    ``path`` should be a ``checked_copy`` that passed ``check_export_archive``.
    Without ``allow_pickle`` torch's own unpickling is forced to weights-only as a
    second line of defence. (Graph nodes calling anything but torch operators are
    refused by torch's own verifier while loading.)
    """
    shown = shown or path
    try:
        with _quiet_torch_export_log(), _weights_only_unpickling(not allow_pickle):
            program = torch.export.load(path)
    except Exception as err:  # torch raises many kinds on a damaged archive
        raise FrontendError(f"cannot load torch.export archive '{shown}': {_first_line(err)}") \
            from None
    if program.example_inputs is None:
        raise FrontendError(f"torch.export archive '{shown}' has no example inputs to take "
                            "shapes from; save it from torch.export.export(...)")
    return program


@contextlib.contextmanager
def _weights_only_unpickling(force: bool) -> Iterator[None]:
    """Make every ``torch.load`` weights-only, even one that asks for ``weights_only=False``."""
    previous = os.environ.get(FORCE_WEIGHTS_ONLY)
    if force:
        os.environ[FORCE_WEIGHTS_ONLY] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(FORCE_WEIGHTS_ONLY, None)
        else:
            os.environ[FORCE_WEIGHTS_ONLY] = previous


@contextlib.contextmanager
def _quiet_torch_export_log():
    """torch.export.load logs a traceback before raising; our one-line error says it all."""
    logger = logging.getLogger("torch.export")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _load_pickle(path: Path, allow_pickle: bool, batch: SizeOption, seq_len: SizeOption,
                 shown: Path | None = None) -> LoadedModel:
    """A ``torch.save`` file at ``path`` (messages name ``shown``, the user's file)."""
    shown = shown or path
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        obj = None  # not plain tensors: a pickled object, possibly a module
    except Exception as err:
        raise FrontendError(f"cannot load '{shown}': {_first_line(err)}") from None
    if obj is not None:
        raise FrontendError(f"'{shown}' holds a {type(obj).__name__} of weights, not a model; "
                            "save the module with torch.export.save or save_pretrained")
    if not allow_pickle:
        raise FrontendError(f"'{shown}' is a pickled Python object: loading it runs arbitrary "
                            "code; pass --allow-pickle (allow_pickle=True) if you trust it")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise FrontendError(f"cannot unpickle '{shown}': {_first_line(err)}") from None
    if not isinstance(obj, torch.nn.Module):
        raise FrontendError(f"'{shown}' holds a {type(obj).__name__}, not a torch.nn.Module")
    if _is_hf_model(obj):
        return _hf_loaded(obj, batch, seq_len)
    return LoadedModel(module=obj)


def _hf_loaded(model: torch.nn.Module, batch: SizeOption, seq_len: SizeOption) -> LoadedModel:
    inputs = hf_example_inputs(model, batch, seq_len)
    return LoadedModel(module=model, example_inputs=inputs,
                       dynamic_shapes=dynamic_shapes(inputs, batch, seq_len))


def _is_hf_model(module: torch.nn.Module) -> bool:
    config = getattr(module, "config", None)
    return config is not None and hasattr(config, "model_type")


def load_hf_directory(path: Path, *, batch: SizeOption = None, seq_len: SizeOption = None,
                      allow_missing_weights: bool = False) -> LoadedModel:
    """A ``save_pretrained`` folder, loaded with transformers (local files only).

    The weights must cover the model: transformers would initialise missing
    ones at random (and silently drop extra layers), so both are refused unless
    ``allow_missing_weights``.
    """
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FrontendError(f"'{path}' is a directory but not a Hugging Face model "
                            "(no config.json)")
    config = _read_config(config_file)
    if not any((path / name).is_file() for name in HF_WEIGHTS):
        raise FrontendError(f"'{path}' has no weights (expected {' or '.join(HF_WEIGHTS[::2])})")
    for weights in _pickled_weight_files(path):
        check_weights_only(weights, f"'{weights}'")
    model = _instantiate(path, config, allow_missing_weights)
    return _hf_loaded(model, batch, seq_len)


def _read_config(config_file: Path) -> dict:
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FrontendError(f"'{config_file}' is not valid JSON ({err})") from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise FrontendError(f"'{config_file}' is not a Hugging Face model config "
                            "(it has no model_type)")
    architectures = config.get("architectures")
    if architectures is not None and not (
            isinstance(architectures, list) and architectures
            and all(isinstance(name, str) and name for name in architectures)):
        raise FrontendError(f"'{config_file}': \"architectures\" must be a list of model class "
                            f"names, got {json.dumps(architectures)[:60]}")
    for key in POSITIVE_CONFIG_SIZES:
        value = config.get(key)
        if value is not None and (type(value) is not int or value < 1):
            raise FrontendError(f"'{config_file}': \"{key}\" must be a positive integer, "
                                f"got {json.dumps(value)[:60]}")
    return config


def _pickled_weight_files(path: Path) -> list[Path]:
    """The torch.save weight files of a folder (``pytorch_model.bin`` and its shards)."""
    files = [path / "pytorch_model.bin"]
    index = path / "pytorch_model.bin.index.json"
    if index.is_file():
        try:
            shards = json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
                AttributeError) as err:
            raise FrontendError(f"'{index}' is not a valid weight index "
                                f"({_first_line(err)})") from None
        for shard in sorted(set(map(str, shards))):
            if Path(shard).name != shard:
                raise FrontendError(f"'{index}' names a weight file outside the folder: "
                                    f"'{shard}'")
            files.append(path / shard)
    return [file for file in files if file.is_file()]


def _instantiate(path: Path, config: dict, allow_missing_weights: bool) -> torch.nn.Module:
    import transformers

    name = (config.get("architectures") or ["AutoModel"])[0]
    model_class = getattr(transformers, name, None)
    if model_class is None:
        raise FrontendError(f"'{path}': transformers has no model class '{name}' "
                            "(custom code is not run)")
    if name != "AutoModel" and not (isinstance(model_class, type)
                                    and issubclass(model_class, transformers.PreTrainedModel)):
        raise FrontendError(f"'{path}': '{name}' in config.json is not a transformers model "
                            "class")
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stderr(quiet), contextlib.redirect_stdout(quiet):
            model, info = model_class.from_pretrained(
                path, local_files_only=True, attn_implementation="sdpa", dtype=torch.float32,
                output_loading_info=True,
            )
    except Exception as err:  # transformers raises many kinds on a bad folder
        raise FrontendError(f"cannot load Hugging Face model '{path}': {_first_line(err)}") \
            from None
    if not allow_missing_weights:
        _check_weights_cover(path, model, info)
    return model.eval()


def _check_weights_cover(path: Path, model: torch.nn.Module, info: dict) -> None:
    """Refuse weights the checkpoint lacks, and extra copies of the model's own layers.

    Other unexpected keys (another task's head, a pooler the model does not
    use) are left alone, as transformers does: they change nothing computed.
    """
    missing = sorted(info.get("missing_keys") or ())
    known = _layer_patterns(model)
    extra = sorted(key for key in info.get("unexpected_keys") or ()
                   if _layer_pattern(key) in known)
    if not missing and not extra:
        return
    parts = [f"{label} {_first_and_count(keys)}"
             for label, keys in (("missing", missing), ("unexpected", extra)) if keys]
    raise FrontendError(f"'{path}': the weights do not match the model ({'; '.join(parts)}); "
                        "pass --allow-missing-weights (allow_missing_weights=True) to use "
                        "random values for missing weights")


def _layer_pattern(key: str) -> str:
    """A parameter name with its layer indices blanked: encoder.layer.#.output.dense.weight."""
    return re.sub(r"(?<=\.)\d+(?=\.)", "#", key)


def _layer_patterns(model: torch.nn.Module) -> set[str]:
    """The blanked names of the model's weights, with and without the base-model prefix."""
    prefix = getattr(model, "base_model_prefix", "") + "."
    patterns = set()
    for key in model.state_dict():
        pattern = _layer_pattern(key)
        patterns.add(pattern)
        if prefix != "." and pattern.startswith(prefix):
            patterns.add(pattern[len(prefix):])
    return patterns


def _first_and_count(keys: list[str]) -> str:
    more = f" and {len(keys) - 1} more" if len(keys) > 1 else ""
    return f"'{keys[0]}'{more}"


def hf_example_inputs(model: torch.nn.Module, batch: SizeOption = None,
                      seq_len: SizeOption = None) -> dict:
    """input_ids (plus attention_mask of ones and zero token_type_ids where the model takes them).

    ``batch`` defaults to 1, ``seq_len`` to min(128, ``max_sequence_length(config)``).
    The ids only fix shapes and dtypes for tracing; they are valid token ids. For a
    ``(min, max)`` range the inputs have a size inside it that torch.export does not
    specialise (not 0 or 1; the batch and sequence sizes differ, so they stay two sizes);
    ``dynamic_shapes`` gives the matching torch.export argument.
    """
    import inspect

    config = model.config
    limit = max_sequence_length(config)
    batch, seq_len = size_option("batch", batch), size_option("seq_len", seq_len)
    if is_range(seq_len) and limit is not None and seq_len[1] > limit:
        raise FrontendError(f"seq_len range {seq_len[0]}..{seq_len[1]} exceeds the {limit} "
                            "positions of the model")
    batch, seq_len = _example_sizes(batch, seq_len)
    batch = 1 if batch is None else batch
    seq_len = min(DEFAULT_SEQ_LEN, limit or DEFAULT_SEQ_LEN) if seq_len is None else seq_len
    if batch < 1 or seq_len < 1:
        raise FrontendError(f"batch and seq_len must be positive, got {batch} and {seq_len}")
    if limit is not None and seq_len > limit:
        raise FrontendError(f"seq_len {seq_len} exceeds the longest sequence the model takes "
                            f"({limit}, from max_position_embeddings "
                            f"{config.max_position_embeddings})")
    accepted = inspect.signature(model.forward).parameters
    ids = torch.arange(batch * seq_len, dtype=torch.int64).reshape(batch, seq_len)
    inputs = {"input_ids": ids % config.vocab_size}
    if "attention_mask" in accepted:
        inputs["attention_mask"] = torch.ones(batch, seq_len, dtype=torch.int64)
    if "token_type_ids" in accepted:
        inputs["token_type_ids"] = torch.zeros(batch, seq_len, dtype=torch.int64)
    return inputs


def size_option(name: str, value: object) -> SizeOption:
    """``batch`` / ``seq_len`` checked: None, a size, or a (min, max) range with 1 <= min <= max
    (a range of one size is that size)."""
    if value is None or (type(value) is int):
        return value
    if not (isinstance(value, tuple | list) and len(value) == 2
            and all(type(v) is int for v in value)):
        raise FrontendError(f"{name} must be a size or a (min, max) range, got {value!r}")
    low, high = value
    if low < 1:
        raise FrontendError(f"{name} range {low}..{high}: sizes start at 1")
    if low > high:
        raise FrontendError(f"{name} range {low}..{high}: its min is above its max")
    return low if low == high else (low, high)


def is_range(size: SizeOption) -> bool:
    return isinstance(size, tuple)


def _example_sizes(batch: SizeOption, seq_len: SizeOption) -> tuple[int | None, int | None]:
    """Sizes inside the ranges that torch.export keeps symbolic: >= 2 (it specialises 0 and 1),
    batch as small as that and seq near 8, and not equal (equal sizes could become one size)."""
    batches = _candidates(batch, 2)
    seqs = _candidates(seq_len, 8)
    pairs = [(b, s) for b in batches for s in seqs if b != s]
    return pairs[0] if pairs else (batches[0], seqs[0])


def _candidates(size: SizeOption, preferred: int) -> list[int | None]:
    """The size itself, or the two sizes >= 2 of a range nearest ``preferred``."""
    if not is_range(size):
        return [size]
    low = max(size[0], 2)
    high = min(size[1], low + preferred + 1)  # the nearest two lie in this window
    return sorted(range(low, high + 1), key=lambda v: (abs(v - preferred), v))[:2]


def dynamic_shapes(example_inputs: tuple | list | dict, batch: SizeOption,
                   seq_len: SizeOption) -> dict | tuple | None:
    """torch.export's ``dynamic_shapes`` for the ranges among ``batch`` and ``seq_len``: a Dim
    named batch on axis 0 and seq on axis 1 of every tensor input (None: no range)."""
    dims = {SIZE_AXES[name]: torch.export.Dim(name, min=size[0], max=size[1])
            for name, size in (("batch", batch), ("seq", seq_len)) if is_range(size)}
    if not dims:
        return None

    def spec(value: object) -> dict | None:
        if not isinstance(value, torch.Tensor):
            return None
        return {axis: dim for axis, dim in dims.items() if axis < value.dim()} or None

    if isinstance(example_inputs, dict):
        return {name: spec(value) for name, value in example_inputs.items()}
    if isinstance(example_inputs, tuple | list):
        return tuple(spec(value) for value in example_inputs)
    return (spec(example_inputs),)


def size_names(batch: SizeOption, seq_len: SizeOption) -> dict[int, str]:
    """The axis -> size name map ``translate`` takes for the ranges ``dynamic_shapes`` made."""
    return {SIZE_AXES[name]: name for name, size in (("batch", batch), ("seq", seq_len))
            if is_range(size)}


def max_sequence_length(config: object) -> int | None:
    """The longest sequence a Hugging Face config's position table takes: its
    ``max_position_embeddings``, less the padding offset where positions start after
    the padding index (RoBERTa and its kin); None when the config has no such table."""
    rows = getattr(config, "max_position_embeddings", None)
    if not isinstance(rows, int):
        return None
    if getattr(config, "model_type", "") in PADDING_OFFSET_POSITIONS:
        rows -= (getattr(config, "pad_token_id", None) or 0) + 1
    return max(rows, 1)


def _first_line(err: BaseException) -> str:
    return torch_message(err)  # never torch's advice to unpickle with weights_only=False
