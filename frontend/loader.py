"""Load a model from disk, recognising the format by content, not by file name.

- a directory with ``config.json``: a Hugging Face ``save_pretrained`` folder;
- a zip with ``*/models/model.json`` or ``*/archive_format``: a ``torch.export.save`` archive;
- a zip with ``*/data.pkl``, or a raw pickle: a ``torch.save`` file. A state dict loads with
  ``weights_only=True``; a whole pickled ``nn.Module`` runs arbitrary code when unpickled,
  so it needs ``allow_pickle=True``.

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
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.export import ExportedProgram

from .errors import FrontendError

PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
TRANSFORMERS_NAME = re.compile(rb"\btransformers(?:\.\w+)+")
HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
              "pytorch_model.bin.index.json")


@dataclass
class LoadedModel:
    """What a file held: an exported program, or a module to trace (with its example inputs)."""

    program: ExportedProgram | None = None
    module: torch.nn.Module | None = None
    example_inputs: tuple | dict | None = None


def load(path: str | os.PathLike, *, batch: int = 1, seq_len: int = 128,
         allow_pickle: bool = False) -> LoadedModel:
    """Open ``path`` as a model of any supported format (see the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise FrontendError(f"'{path}': no such file or directory")
    if path.is_dir():
        return load_hf_directory(path, batch=batch, seq_len=seq_len)
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
    raise FrontendError(f"'{path}' is not a model: expected a torch.export archive (.pt2), "
                        "a torch.save file, or a Hugging Face model directory")


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(64)
    except OSError as err:
        raise FrontendError(f"cannot read '{path}': {err.strerror}") from None


def _load_zip(path: Path, allow_pickle: bool, batch: int, seq_len: int) -> LoadedModel:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise FrontendError(f"'{path}' is a damaged or truncated zip archive ({err})") from None
    if any(n.endswith(("/archive_format", "/models/model.json")) for n in names):
        _import_output_types(path, [n for n in names if n.endswith(".json")])
        return LoadedModel(program=load_export_archive(path))
    if any(n.endswith("/data.pkl") for n in names):
        return _load_pickle(path, allow_pickle, batch, seq_len)
    raise FrontendError(f"'{path}' is a zip archive but neither a torch.export archive "
                        "nor a torch.save file")


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
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


def load_export_archive(path: Path) -> ExportedProgram:
    """A ``torch.export.save`` archive; its example inputs give the shapes."""
    try:
        with _quiet_torch_export_log():
            program = torch.export.load(path)
    except Exception as err:  # torch raises many kinds on a damaged archive
        raise FrontendError(f"cannot load torch.export archive '{path}': {_first_line(err)}") \
            from None
    if program.example_inputs is None:
        raise FrontendError(f"torch.export archive '{path}' has no example inputs to take "
                            "shapes from; save it from torch.export.export(...)")
    return program


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


def _load_pickle(path: Path, allow_pickle: bool, batch: int, seq_len: int) -> LoadedModel:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        obj = None  # not plain tensors: a pickled object, possibly a module
    except Exception as err:
        raise FrontendError(f"cannot load '{path}': {_first_line(err)}") from None
    if obj is not None:
        raise FrontendError(f"'{path}' holds a {type(obj).__name__} of weights, not a model; "
                            "save the module with torch.export.save or save_pretrained")
    if not allow_pickle:
        raise FrontendError(f"'{path}' is a pickled Python object: loading it runs arbitrary "
                            "code; pass --allow-pickle (allow_pickle=True) if you trust it")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise FrontendError(f"cannot unpickle '{path}': {_first_line(err)}") from None
    if not isinstance(obj, torch.nn.Module):
        raise FrontendError(f"'{path}' holds a {type(obj).__name__}, not a torch.nn.Module")
    if _is_hf_model(obj):
        return LoadedModel(module=obj, example_inputs=hf_example_inputs(obj, batch, seq_len))
    return LoadedModel(module=obj)


def _is_hf_model(module: torch.nn.Module) -> bool:
    config = getattr(module, "config", None)
    return config is not None and hasattr(config, "model_type")


def load_hf_directory(path: Path, *, batch: int = 1, seq_len: int = 128) -> LoadedModel:
    """A ``save_pretrained`` folder, loaded with transformers (local files only)."""
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FrontendError(f"'{path}' is a directory but not a Hugging Face model "
                            "(no config.json)")
    config = _read_config(config_file)
    if not any((path / name).is_file() for name in HF_WEIGHTS):
        raise FrontendError(f"'{path}' has no weights (expected {' or '.join(HF_WEIGHTS[::2])})")
    model = _instantiate(path, config)
    return LoadedModel(module=model, example_inputs=hf_example_inputs(model, batch, seq_len))


def _read_config(config_file: Path) -> dict:
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FrontendError(f"'{config_file}' is not valid JSON ({err})") from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise FrontendError(f"'{config_file}' is not a Hugging Face model config "
                            "(it has no model_type)")
    return config


def _instantiate(path: Path, config: dict) -> torch.nn.Module:
    import transformers

    names = config.get("architectures") or ["AutoModel"]
    model_class = getattr(transformers, names[0], None)
    if model_class is None:
        raise FrontendError(f"'{path}': transformers has no model class '{names[0]}' "
                            "(custom code is not run)")
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stderr(quiet):
            model = model_class.from_pretrained(
                path, local_files_only=True, attn_implementation="sdpa", dtype=torch.float32
            )
    except Exception as err:  # transformers raises many kinds on a bad folder
        raise FrontendError(f"cannot load Hugging Face model '{path}': {_first_line(err)}") \
            from None
    return model.eval()


def hf_example_inputs(model: torch.nn.Module, batch: int, seq_len: int) -> dict:
    """input_ids (plus attention_mask of ones and zero token_type_ids where the model takes them).

    The ids only fix shapes and dtypes for tracing; they are valid token ids.
    """
    import inspect

    config = model.config
    if batch < 1 or seq_len < 1:
        raise FrontendError(f"batch and seq_len must be positive, got {batch} and {seq_len}")
    limit = getattr(config, "max_position_embeddings", None)
    if limit is not None and seq_len > limit:
        raise FrontendError(f"seq_len {seq_len} exceeds the model's max_position_embeddings "
                            f"{limit}")
    accepted = inspect.signature(model.forward).parameters
    ids = torch.arange(batch * seq_len, dtype=torch.int64).reshape(batch, seq_len)
    inputs = {"input_ids": ids % config.vocab_size}
    if "attention_mask" in accepted:
        inputs["attention_mask"] = torch.ones(batch, seq_len, dtype=torch.int64)
    if "token_type_ids" in accepted:
        inputs["token_type_ids"] = torch.zeros(batch, seq_len, dtype=torch.int64)
    return inputs


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]
