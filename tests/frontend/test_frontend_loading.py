"""Each model source loads through its own path; bad files give one clear line."""

from __future__ import annotations

import datetime
import zipfile

import pytest
import torch
import transformers
from conftest import TOLERANCE, max_error, tiny_config, tiny_model, token_inputs

from sparsec.errors import UserError
from sparsec.frontend import FrontendError, import_model


def _forward_arg_types(module) -> list[str]:
    forward = module.regions[0].block.ops[0]
    return [str(arg.type) for arg in forward.regions[0].block.args]


@pytest.fixture(scope="module")
def export_archive(tmp_path_factory):
    """A torch.export.save archive of tiny BERT at batch 2 x seq 6, with its model."""
    model = tiny_model("bert")
    inputs = token_inputs(model, 2, 6)
    path = tmp_path_factory.mktemp("export") / "bert.pt2"
    torch.export.save(torch.export.export(model, (), inputs), path)
    return path, model, inputs


def test_export_archive_takes_shapes_from_the_export(export_archive) -> None:
    path, model, inputs = export_archive
    module = import_model(path, batch=7, seq_len=99)  # ignored: the archive fixes the shapes
    assert _forward_arg_types(module) == ["tensor<2x6xi64>"] * 3
    assert max(max_error(module, model, inputs)) <= TOLERANCE


def test_export_archive_is_recognised_by_content_not_name(export_archive, tmp_path) -> None:
    path, model, inputs = export_archive
    renamed = tmp_path / "model.pt"
    renamed.write_bytes(path.read_bytes())
    assert max(max_error(import_model(renamed), model, inputs)) <= TOLERANCE


def test_hf_directory_with_safetensors(tmp_path) -> None:
    model = tiny_model("roberta", "ForSequenceClassification")
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    module = import_model(tmp_path, batch=2, seq_len=10)
    assert _forward_arg_types(module) == ["tensor<2x10xi64>"] * 3
    assert max(max_error(module, model, token_inputs(model, 2, 10))) <= TOLERANCE


def test_hf_directory_with_pytorch_model_bin(tmp_path) -> None:
    model = tiny_model("distilbert", "ForTokenClassification")
    model.config.architectures = ["DistilBertForTokenClassification"]  # as save_pretrained does
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    module = import_model(tmp_path, seq_len=12)
    assert _forward_arg_types(module) == ["tensor<1x12xi64>"] * 2  # DistilBERT: no token types
    assert max(max_error(module, model, token_inputs(model, 1, 12))) <= TOLERANCE


def test_default_shape_is_batch_1_by_128(tmp_path) -> None:
    config = tiny_config("electra")
    config.max_position_embeddings = 128
    transformers.ElectraModel(config).save_pretrained(tmp_path)
    assert _forward_arg_types(import_model(tmp_path))[0] == "tensor<1x128xi64>"


def test_pickled_module_needs_the_opt_in(tmp_path) -> None:
    model = tiny_model("albert", "ForMaskedLM")
    path = tmp_path / "albert.pt"
    torch.save(model, path)
    with pytest.raises(FrontendError, match=r"runs arbitrary code.*--allow-pickle"):
        import_model(path)
    module = import_model(path, allow_pickle=True, batch=1, seq_len=8)
    assert max(max_error(module, model, token_inputs(model, 1, 8))) <= TOLERANCE


def test_pickled_plain_module_uses_given_example_inputs(tmp_path) -> None:
    path = tmp_path / "mlp.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Tanh()), path)
    with pytest.raises(FrontendError, match="example inputs are needed"):
        import_model(path, allow_pickle=True)
    module = import_model(path, (torch.zeros(5, 4),), allow_pickle=True)
    assert _forward_arg_types(module) == ["tensor<5x4xf32>"]


def test_pickled_non_module_is_refused_even_with_the_opt_in(tmp_path) -> None:
    path = _saved(tmp_path / "date.pt", datetime.date(2024, 1, 1))
    with pytest.raises(FrontendError, match=r"holds a date, not a torch\.nn\.Module"):
        import_model(path, allow_pickle=True)


def _truncated_zip(tmp_path, archive):
    data = archive.read_bytes()
    path = tmp_path / "truncated.pt2"
    path.write_bytes(data[: len(data) // 2])
    return path


BAD_FILES = {
    "missing": (lambda tmp, _: tmp / "nope.pt2", "no such file"),
    "empty": (lambda tmp, _: _write(tmp / "empty.pt2", b""), "is empty"),
    "truncated zip": (_truncated_zip, "damaged or truncated zip"),
    "random bytes": (lambda tmp, _: _write(tmp / "noise.pt", bytes(range(7, 250)) * 9),
                     "is not a model"),
    "json file": (lambda tmp, _: _write(tmp / "config.json", b'{"a": 1}'), "is a JSON file"),
    "json not a config": (lambda tmp, _: _hf_dir(tmp, b'{"hidden_size": 4}'),
                          "not a Hugging Face model config"),
    "broken json config": (lambda tmp, _: _hf_dir(tmp, b'{"model_type": '), "not valid JSON"),
    "directory without config": (lambda tmp, _: tmp, "no config.json"),
    "config without weights": (lambda tmp, _: _hf_dir(tmp, b'{"model_type": "bert"}'),
                               "has no weights"),
    "state dict": (lambda tmp, _: _saved(tmp / "sd.pt", {"w": torch.ones(2)}),
                   "holds a dict of weights, not a model"),
    "zip of something else": (lambda tmp, _: _zip(tmp / "other.zip"), "neither a torch.export"),
    "pickled object": (lambda tmp, _: _saved(tmp / "obj.pt", datetime.date(2024, 1, 1)),
                       "runs arbitrary code"),
}


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _hf_dir(tmp, config: bytes):
    (tmp / "config.json").write_bytes(config)
    return tmp


def _saved(path, obj):
    torch.save(obj, path)
    return path


def _zip(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    return path


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_give_one_clear_line(case, tmp_path, export_archive) -> None:
    make, expected = BAD_FILES[case]
    path = make(tmp_path, export_archive[0])
    with pytest.raises(UserError) as info:
        import_model(path)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert str(path.name) in message or case == "directory without config"


def test_too_long_sequence_is_refused(tmp_path) -> None:
    tiny_model("bert").save_pretrained(tmp_path)
    with pytest.raises(FrontendError, match=r"seq_len 65 exceeds .* 64"):
        import_model(tmp_path, seq_len=65)
