"""Hostile, damaged and incomplete model files: one `error:` line naming the member, nothing run.

Every file here starts as a real saved model (a tiny seeded BERT written by
``torch.export.save`` or ``save_pretrained``) that the test then damages. The
hostile payloads are harmless: unpickling (or evaluating) them would create a
marker file, and each test checks the marker does not exist afterwards.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import safetensors.torch
import torch
import transformers
import typer
from conftest import CLASS_PREFIX, CONFIGS, tiny_config, tiny_model, token_inputs
from typer.testing import CliRunner

from sparsec.commands import analyze as analyze_command
from sparsec.commands import compile as compile_command
from sparsec.commands import import_model as import_command
from sparsec.commands import prune as prune_command
from sparsec.errors import UserError
from sparsec.frontend import import_model
from sparsec.frontend.loader import load

QUERY = "encoder.layer.0.attention.self.query.weight"


class Payload:
    """Unpickling this opens (creates) ``marker``: what a malicious pickle's command would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def payload_file(marker: Path) -> bytes:
    """The payload in ``torch.save``'s zip format, as the archive's pickled members are."""
    buffer = io.BytesIO()
    torch.save(Payload(marker), buffer)
    return buffer.getvalue()


# -- building and damaging archives ----------------------------------------------------------


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """A torch.export.save archive of a tiny BertModel at batch 1 x seq 6."""
    model = tiny_model("bert")
    path = tmp_path_factory.mktemp("export") / "bert.pt2"
    torch.export.save(torch.export.export(model, (), token_inputs(model, 1, 6)), path)
    return path


def members(path: Path) -> dict[str, bytes]:
    """Record name (below the archive's top folder) -> bytes."""
    with zipfile.ZipFile(path) as zipped:
        return {info.filename.split("/", 1)[1]: zipped.read(info) for info in zipped.infolist()}


def rewrite(source: Path, target: Path, changes: dict | None = None,
            extra: list[tuple[str, bytes]] | None = None) -> Path:
    """Copy ``source`` with some records replaced (bytes, or a function of the old bytes),
    dropped (None) or added (``extra``, full member names), as a consistent zip."""
    changes = changes or {}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        top = old.namelist()[0].split("/", 1)[0]
        for info in old.infolist():
            record = info.filename.split("/", 1)[1]
            data = old.read(info)
            change = changes.get(record, data)
            if change is None:
                continue
            new.writestr(info.filename, change(data) if callable(change) else change)
        for name, data in extra or []:
            new.writestr(name.replace("TOP", top), data)
    return target


def edit_json(function):
    """A change that applies ``function`` to a member's JSON."""
    def change(data: bytes) -> bytes:
        value = json.loads(data)
        function(value)
        return json.dumps(value).encode()
    return change


def weight_file(path: Path, fqn: str, folder: str = "weights") -> str:
    config = json.loads(members(path)[f"data/{folder}/model_{folder}_config.json"])
    return f"data/{folder}/" + config["config"][fqn]["path_name"]


def set_use_pickle(fqn: str):
    return edit_json(lambda config: config["config"][fqn].update(use_pickle=True))


def refusal(path, **kwargs) -> str:
    """The one-line message ``import_model(path)`` is refused with."""
    with pytest.raises(UserError) as info:
        import_model(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert "weights_only=False" not in message
    return message


# -- the CLI ----------------------------------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    for module in (import_command, compile_command, analyze_command, prune_command):
        module.register(app)
    return app


def run_cli(*args) -> object:
    return CliRunner().invoke(cli(), [str(a) for a in args])


def cli_error(*args) -> str:
    """`sparsec ARGS` failed with exit 1 and exactly one `error:` line, no traceback."""
    result = run_cli(*args)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # not an escaped error
    assert [line for line in lines if line.startswith("error")] == lines[-1:], result.stderr
    assert lines[-1].startswith("error: ") and "Traceback" not in result.output
    assert "weights_only=False" not in result.output
    return lines[-1]


def import_and_compile_errors(path: Path, tmp_path: Path, *flags: str) -> list[str]:
    return [cli_error("import", path, "--elide-resources", *flags),
            cli_error("compile", path, "-o", tmp_path / "out.sparsec", *flags)]


# -- issue 10: a .pt2 (or a folder's pytorch_model.bin) must not run code --------------------


def test_an_ordinary_archive_with_pickled_sample_inputs_loads_without_the_opt_in(archive):
    sample = members(archive)["data/sample_inputs/model.pt"]
    assert sample.startswith(b"PK") and b"data.pkl" in sample  # a torch.save pickle
    loaded = load(archive)
    assert loaded.program is not None and loaded.program.example_inputs is not None


def test_sample_inputs_payload_is_refused_before_torch_unpickles_it(archive, tmp_path):
    marker = tmp_path / "ran.txt"
    path = rewrite(archive, tmp_path / "evil.pt2",
                   {"data/sample_inputs/model.pt": payload_file(marker)})
    message = refusal(path)
    assert "member 'bert/data/sample_inputs/model.pt' is a pickle that would run code" in message
    for line in import_and_compile_errors(path, tmp_path):
        assert "data/sample_inputs/model.pt" in line and "--allow-pickle" in line
    assert not marker.exists()
    with pytest.raises(UserError):  # the opt-in trusts the file: torch then runs the payload
        import_model(path, allow_pickle=True)
    assert marker.exists()


def test_sparsec_import_of_a_hostile_archive_in_a_fresh_process(archive, tmp_path):
    """The reported case: `sparsec import evil.pt2` ran the pickle's command, then failed."""
    marker = tmp_path / "ran.txt"
    path = rewrite(archive, tmp_path / "evil.pt2",
                   {"data/sample_inputs/model.pt": payload_file(marker)})
    done = subprocess.run([sys.executable, "-m", "sparsec.cli", "import", str(path)],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: '{path}': member 'bert/data/sample_inputs/model.pt' is a pickle that would run "
        "code when loaded (it needs more than tensors and plain containers); pass "
        "--allow-pickle (allow_pickle=True) only if you trust the file"]
    assert not marker.exists()


@pytest.mark.parametrize("folder, fqn", [("weights", QUERY),
                                         ("constants", "embeddings.position_ids")])
def test_use_pickle_payload_is_refused_before_torch_unpickles_it(archive, tmp_path, folder, fqn):
    marker = tmp_path / "ran.txt"
    member = weight_file(archive, fqn, folder)
    path = rewrite(archive, tmp_path / "evil.pt2", {
        f"data/{folder}/model_{folder}_config.json": set_use_pickle(fqn),
        member: payload_file(marker),
    })
    assert f"member 'bert/{member}' is a pickle that would run code" in refusal(path)
    assert f"bert/{member}" in cli_error("import", path)
    assert not marker.exists()


def test_a_use_pickle_weight_that_is_a_plain_tensor_still_loads(archive, tmp_path):
    """Weights-only unpickling is allowed: refusing it would refuse torch's own tensor pickles."""
    member = weight_file(archive, QUERY)
    original = load(archive).program.state_dict[QUERY]
    buffer = io.BytesIO()
    torch.save(torch.nn.Parameter(original.detach().clone()), buffer)
    path = rewrite(archive, tmp_path / "pickled.pt2", {
        "data/weights/model_weights_config.json": set_use_pickle(QUERY),
        member: buffer.getvalue(),
    })
    assert torch.equal(load(path).program.state_dict[QUERY], original)


def test_opaque_constant_and_compiled_code_are_refused(archive, tmp_path):
    marker = tmp_path / "ran.txt"

    def opaque(config):
        config["config"]["embeddings.position_ids"]["path_name"] = "opaque_obj_0"

    path = rewrite(archive, tmp_path / "opaque.pt2",
                   {"data/constants/model_constants_config.json": edit_json(opaque)},
                   [("TOP/data/constants/opaque_obj_0", pickle.dumps(Payload(marker)))])
    assert "member 'bert/data/constants/opaque_obj_0' is a pickled Python object" \
        in refusal(path)
    native = rewrite(archive, tmp_path / "aoti.pt2",
                     extra=[("TOP/data/aotinductor/model/model.so", b"\x7fELF")])
    assert "member 'bert/data/aotinductor/model/model.so' holds compiled native code" \
        in cli_error("import", native)
    assert not marker.exists()


def test_symbolic_shape_that_is_python_code_is_refused_before_sympy_evaluates_it(
        archive, tmp_path):
    marker = tmp_path / "ran.txt"
    code = f"__import__('builtins').open('{marker}', 'w')"

    def inject(program):
        first = next(iter(program["graph_module"]["graph"]["tensor_values"].values()))
        first["sizes"][1] = {"as_expr": {"expr_str": code, "hint": {"as_int": 64}}}

    path = rewrite(archive, tmp_path / "evil.pt2", {"models/model.json": edit_json(inject)})
    message = refusal(path)
    assert "member 'bert/models/model.json' holds a symbolic shape expression" in message
    assert "'__import__'" in message
    assert "models/model.json" in cli_error("import", path)
    assert not marker.exists()


def test_a_graph_calling_a_python_function_is_refused(archive, tmp_path):
    """Decomposing the graph runs its targets: torch's verifier must keep refusing this."""
    def retarget(program):
        node = program["graph_module"]["graph"]["nodes"][0]
        node["target"] = "torch.ops.import_module"

    path = rewrite(archive, tmp_path / "call.pt2", {"models/model.json": edit_json(retarget)})
    assert "is not an allowed operator type" in refusal(path)
    assert "models/model.json" not in cli_error("import", path)  # one line, from torch


@pytest.fixture(scope="module")
def hf_config(tmp_path_factory) -> Path:
    """The config.json of a saved tiny BertModel (and the folder with its safetensors)."""
    path = tmp_path_factory.mktemp("hf")
    tiny_model("bert").save_pretrained(path)
    return path


def hf_folder(hf_config: Path, target: Path, config: dict | None = None,
              weights: dict | None = None) -> Path:
    """A copy of the saved folder, with an edited config and/or other safetensors weights."""
    target.mkdir(exist_ok=True)
    saved = json.loads((hf_config / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**saved, **(config or {})}))
    if weights is None:
        (target / "model.safetensors").write_bytes((hf_config / "model.safetensors").read_bytes())
    else:
        safetensors.torch.save_file(weights, target / "model.safetensors")
    return target


@pytest.mark.parametrize("layout", ["pytorch_model.bin", "sharded"])
def test_hf_folder_with_a_pickle_payload_is_refused_with_our_message(hf_config, tmp_path,
                                                                      layout):
    marker = tmp_path / "ran.txt"
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_bytes((hf_config / "config.json").read_bytes())
    name = "pytorch_model.bin" if layout == "pytorch_model.bin" else "shard-1.bin"
    (folder / name).write_bytes(payload_file(marker))
    if layout == "sharded":
        index = {"metadata": {}, "weight_map": {QUERY: name}}
        (folder / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    message = refusal(folder)
    assert f"'{folder / name}' is a pickle that would run code" in message
    assert name in cli_error("import", folder)
    assert not marker.exists()


# -- issue 11.1: damaged archives are one line naming the member -----------------------------


def data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Where a member's bytes start: after its local header, file name and extra field."""
    with path.open("rb") as file:
        file.seek(info.header_offset)
        header = file.read(30)
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


def flipped(source: Path, target: Path, offset: int, value: int | None = None) -> Path:
    data = bytearray(source.read_bytes())
    data[offset] = value if value is not None else data[offset] ^ 0x01
    target.write_bytes(bytes(data))
    return target


def test_every_member_with_a_flipped_byte_is_refused_by_name(archive, tmp_path):
    """One flipped byte in each member's data (CRC no longer matches): 50 archives here."""
    with zipfile.ZipFile(archive) as zipped:
        infos = [info for info in zipped.infolist() if info.file_size > 0]
    assert len(infos) > 40
    for info in infos:
        path = flipped(archive, tmp_path / "flipped.pt2", data_offset(archive, info) +
                       info.file_size // 2)
        message = refusal(path)
        assert f"member '{info.filename}' does not read back intact" in message, message


def central_directory_fields(path: Path) -> list[tuple[str, str, int]]:
    """(member, field, offset) of the name, CRC, size and header offset of every directory entry."""
    data = path.read_bytes()
    with zipfile.ZipFile(path) as zipped:
        position = zipped.start_dir  # the directory's first entry
    fields = []
    while data[position:position + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack(
            "<HHH", data[position + 28:position + 34])
        name = data[position + 46:position + 46 + name_length].decode()
        fields += [(name, "name", position + 46), (name, "crc", position + 16),
                   (name, "size", position + 20), (name, "offset", position + 42)]
        position += 46 + name_length + extra_length + comment_length
    return fields


def test_flipped_bytes_in_the_central_directory_are_refused_by_name(archive, tmp_path):
    """Damaged name (invalid UTF-8), CRC, size and offset of every directory entry."""
    fields = central_directory_fields(archive)
    assert len(fields) > 150
    for name, field, offset in fields:
        value = 0xFF if field == "name" else None
        path = flipped(archive, tmp_path / "directory.pt2", offset, value)
        message = refusal(path)
        assert "damaged" in message, (field, message)
        shown = name.split("/", 1)[1] if field == "name" else name  # first byte is damaged
        assert shown in message, (field, message)


@pytest.mark.parametrize("record", ["models/model.json", "data/weights/model_weights_config.json",
                                    "data/weights/weight_5"])
def test_a_member_with_a_bad_crc_is_one_cli_error(archive, tmp_path, record):
    with zipfile.ZipFile(archive) as zipped:
        info = zipped.getinfo("bert/" + record)
    path = flipped(archive, tmp_path / "crc.pt2", data_offset(archive, info) + 3)
    for line in import_and_compile_errors(path, tmp_path):
        assert f"member 'bert/{record}' does not read back intact" in line


def incomplete_archives(archive: Path, tmp: Path) -> dict[str, tuple[Path, str]]:
    """Archives whose zip is intact but whose content is not: (path, what the error names)."""
    query = weight_file(archive, QUERY)
    weight = members(archive)[query]

    def build(name, changes=None, extra=None):
        return rewrite(archive, tmp / f"{name}.pt2", changes, extra)

    return {
        "missing weight": (build("missing", {query: None}), f"no member '{query}'"),
        "short weight": (build("short", {query: weight[:-4]}),
                         f"member 'bert/{query}' holds {len(weight) - 4} bytes"),
        "missing sample inputs": (build("nosample", {"data/sample_inputs/model.pt": None}),
                                  "no member 'data/sample_inputs/model.pt'"),
        "missing weights config": (build("noconfig",
                                         {"data/weights/model_weights_config.json": None}),
                                   "no member 'data/weights/model_weights_config.json'"),
        "program not JSON": (build("program", {"models/model.json": b"{\xff"}),
                             "member 'bert/models/model.json' is not valid JSON"),
        "config escapes its folder": (
            build("escape", {"data/weights/model_weights_config.json": edit_json(
                lambda c: c["config"][QUERY].update(path_name="../../models/model.json"))}),
            f"gives '{QUERY}' no valid file"),
        "duplicate member": (build("duplicate", extra=[("TOP/" + query, weight)]),
                             f"member 'bert/{query}' appears twice"),
        "member outside the folder": (build("stray", extra=[("version", b"1")]),
                                      "member 'version' is outside its top folder 'bert'"),
    }


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_incomplete_archives_are_refused_by_name(archive, tmp_path):
    cases = incomplete_archives(archive, tmp_path)
    for case, (path, expected) in cases.items():
        assert expected in refusal(path), case
    path, expected = cases["short weight"]
    assert all(expected in line for line in import_and_compile_errors(path, tmp_path))


# -- issue 11.2: a config naming no usable class ---------------------------------------------


@pytest.mark.parametrize("architectures, expected", [
    ([123], "must be a list of model class names"),
    ([None], "must be a list of model class names"),
    ({"a": 1}, "must be a list of model class names"),
    ("BertModel", "must be a list of model class names"),
    (["BertTokenizer"], "'BertTokenizer' in config.json is not a transformers model class"),
    (["NoSuchModel"], "transformers has no model class 'NoSuchModel'"),
])
def test_bad_architectures_are_one_line(hf_config, tmp_path, architectures, expected):
    folder = hf_folder(hf_config, tmp_path / "hf", {"architectures": architectures})
    assert expected in refusal(folder)
    assert expected in cli_error("import", folder)


# -- issue 11.3: weights that are not there are not invented ---------------------------------


def saved_weights(hf_config: Path) -> dict[str, torch.Tensor]:
    return safetensors.torch.load_file(hf_config / "model.safetensors")


def test_a_checkpoint_missing_a_layer_is_refused_unless_allowed(hf_config, tmp_path):
    weights = {k: v for k, v in saved_weights(hf_config).items()
               if not k.startswith("encoder.layer.1.")}
    folder = hf_folder(hf_config, tmp_path / "hf", weights=weights)
    message = refusal(folder)
    assert "the weights do not match the model (missing 'encoder.layer.1." in message
    assert "--allow-missing-weights" in message
    for line in [*import_and_compile_errors(folder, tmp_path),
                 cli_error("analyze", folder),
                 cli_error("prune", folder, "-o", tmp_path / "pruned")]:
        assert "missing 'encoder.layer.1." in line
    assert load(folder, allow_missing_weights=True, seq_len=8).module is not None
    result = run_cli("import", folder, "--elide-resources", "--seq-len", "4",
                     "--allow-missing-weights")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("layers, expected", [
    (4, "(missing 'encoder.layer.2."),
    (1, "(unexpected 'encoder.layer.1."),
    (-1, "\"num_hidden_layers\" must be a positive integer, got -1"),
    (0, "\"num_hidden_layers\" must be a positive integer, got 0"),
    (True, "\"num_hidden_layers\" must be a positive integer, got true"),
])
def test_a_config_that_does_not_fit_the_checkpoint_is_refused(hf_config, tmp_path, layers,
                                                               expected):
    folder = hf_folder(hf_config, tmp_path / "hf", {"num_hidden_layers": layers})
    assert expected in refusal(folder)
    assert all(expected in line for line in import_and_compile_errors(folder, tmp_path))


@pytest.mark.parametrize("arch", sorted(CONFIGS))
def test_tied_heads_and_buffers_are_not_reported_missing(arch, tmp_path):
    """MaskedLM decoders tied to the embeddings and position_ids buffers are not stored."""
    model = tiny_model(arch, "ForMaskedLM")
    model.save_pretrained(tmp_path)
    stored = safetensors.torch.load_file(tmp_path / "model.safetensors")
    assert not any("position_ids" in key for key in stored)
    loaded = load(tmp_path, seq_len=8).module
    assert type(loaded).__name__ == CLASS_PREFIX[arch] + "ForMaskedLM"


def test_another_tasks_head_in_the_checkpoint_is_not_refused(tmp_path):
    """A pretraining checkpoint loaded as its masked-LM model: the unused NSP head is ignored."""
    torch.manual_seed(0)
    transformers.BertForPreTraining(tiny_config("bert")).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config,
                                                      "architectures": ["BertForMaskedLM"]}))
    assert type(load(tmp_path, seq_len=8).module).__name__ == "BertForMaskedLM"
