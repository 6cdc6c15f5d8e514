"""The default sequence length fits the model: min(128, the longest sequence it takes).

A Hugging Face model with 64 positions (a small DistilBERT, say) is traced at 64 instead of
failing at 128; RoBERTa-style models, whose positions start after the padding index, at 2 less.
"""

from __future__ import annotations

import pytest
import transformers
from conftest import tiny_config, tiny_model

from sparsec.frontend import FrontendError, import_model
from sparsec.frontend.loader import hf_example_inputs, max_sequence_length
from sparsec.ir.interpreter import find_function, function_type


def traced_shapes(module) -> list[str]:
    return [str(t) for t in function_type(find_function(module)).inputs]


def test_a_directory_with_64_positions_is_traced_at_64(tmp_path):
    model = tiny_model("distilbert")
    assert model.config.max_position_embeddings == 64
    model.save_pretrained(tmp_path)
    assert traced_shapes(import_model(tmp_path)) == ["tensor<1x64xi64>"] * 2


@pytest.mark.parametrize(("arch", "positions", "expected"), [
    ("bert", 64, 64), ("bert", 512, 128), ("electra", 128, 128), ("roberta", 64, 62),
    ("roberta", 514, 128),
])
def test_default_seq_len_is_min_of_128_and_the_model_positions(arch, positions, expected):
    config = tiny_config(arch)
    config.max_position_embeddings = positions
    model = getattr(transformers, {"bert": "BertModel", "electra": "ElectraModel",
                                   "roberta": "RobertaModel"}[arch])(config)
    inputs = hf_example_inputs(model)
    assert tuple(inputs["input_ids"].shape) == (1, expected)
    assert max_sequence_length(config) == (positions - 2 if arch == "roberta" else positions)


def test_a_longer_seq_len_than_the_model_takes_is_refused():
    model = tiny_model("roberta")  # 64 positions, padding index 1: at most 62 tokens
    assert hf_example_inputs(model, seq_len=62)["input_ids"].shape[1] == 62
    with pytest.raises(FrontendError, match=r"seq_len 63 exceeds the longest sequence the model "
                                            r"takes \(62, from max_position_embeddings 64\)"):
        hf_example_inputs(model, seq_len=63)


def test_an_in_memory_model_defaults_the_same_way():
    module = import_model(tiny_model("bert", "ForSequenceClassification"))
    assert traced_shapes(module) == ["tensor<1x64xi64>"] * 3
