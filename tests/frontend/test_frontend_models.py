"""Every BERT-family architecture and head imports and matches PyTorch eager (<= 1e-4)."""

from __future__ import annotations

import pytest
import torch
import transformers
from conftest import CONFIGS, HEADS, TOLERANCE, max_error, tiny_model, token_inputs

from sparsec.frontend import import_model
from sparsec.ir.dialects.sparsec import Linear


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("arch", sorted(CONFIGS))
def test_architecture_matches_pytorch(arch: str, head: str) -> None:
    model = tiny_model(arch, head)
    inputs = token_inputs(model, batch=2, seq_len=9)
    module = import_model(model, inputs)
    errors = max_error(module, model, inputs)
    assert max(errors) <= TOLERANCE, errors


def test_bert_at_batch_2_and_odd_sequence_length(bert) -> None:
    inputs = token_inputs(bert, batch=2, seq_len=37)
    module = import_model(bert, inputs)
    forward = module.regions[0].block.ops[0]
    assert [str(a.type) for a in forward.regions[0].block.args] == ["tensor<2x37xi64>"] * 3
    last_hidden_state, pooler_output = max_error(module, bert, inputs)
    assert last_hidden_state <= TOLERANCE and pooler_output <= TOLERANCE


def test_eager_attention_matches_too() -> None:
    torch.manual_seed(0)
    config = tiny_model("bert").config
    model = transformers.BertModel(config, add_pooling_layer=True)
    model.config._attn_implementation = "eager"
    model.eval()
    inputs = token_inputs(model, batch=2, seq_len=7)
    module = import_model(model, inputs)
    names = [op.name for op in module.walk()]
    assert "sparsec.softmax" in names and "sparsec.attention" not in names
    assert max(max_error(module, model, inputs)) <= TOLERANCE


def _ops(module, name: str) -> list:
    return [op for op in module.walk() if op.name == name]


def test_linear_layers_keep_torch_layout_and_parameter_names(bert) -> None:
    module = import_model(bert, token_inputs(bert, 1, 8))
    linears = _ops(module, "sparsec.linear")
    assert len(linears) == 2 * 6 + 1  # q, k, v, out, ffn in/out per layer + pooler
    weight = Linear.operand(linears[0], "weight").definer.properties["value"]
    assert weight.key == "encoder.layer.0.attention.self.query.weight"
    assert tuple(weight.type.shape) == (64, 64)
    ffn_in = next(op for op in linears if op.operands[1].definer.properties["value"].key
                  == "encoder.layer.0.intermediate.dense.weight")
    assert tuple(ffn_in.operands[1].type.shape) == (128, 64)  # [out, in]
    keys = [op.properties["value"].key for op in _ops(module, "sparsec.constant")
            if hasattr(op.properties["value"], "key")]
    assert not any(k.startswith(("p_", "b_")) for k in keys)
    assert len(keys) == len(set(keys))


def test_tied_weights_are_one_constant() -> None:
    model = tiny_model("bert", "ForMaskedLM")
    module = import_model(model, token_inputs(model, 1, 8))
    table = [op for op in _ops(module, "sparsec.constant")
             if getattr(op.properties["value"], "key", "") ==
             "bert.embeddings.word_embeddings.weight"]
    assert len(table) == 1
    users = {user.name for user in table[0].result.users}
    assert users == {"sparsec.embedding", "sparsec.linear"}


def test_eval_mode_noops_are_dropped(bert) -> None:
    module = import_model(bert, token_inputs(bert, 1, 8))
    names = {op.name for op in module.walk()}
    assert "sparsec.dropout" not in names
    assert not any(n.startswith("aten") for n in names)


def test_small_constants_inline_and_weights_in_resources(bert) -> None:
    module = import_model(bert, token_inputs(bert, 1, 8))
    for op in _ops(module, "sparsec.constant"):
        value = op.properties["value"]
        if type(value).__name__ == "DenseElementsAttr":
            assert value.array.size <= 16 or value.is_splat
        else:
            assert value.resource.data is not None


def test_core_aten_graph_recognises_addmm_and_mm_as_linear(bert) -> None:
    """After full decomposition linear is permute + addmm/mm: still one sparsec.linear each."""
    inputs = token_inputs(bert, 2, 8)
    program = torch.export.export(bert, (), inputs).run_decompositions()
    targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert "aten.addmm.default" in targets and "aten.linear.default" not in targets
    module = import_model(program)
    linears = _ops(module, "sparsec.linear")
    assert len(linears) == 13
    assert all(op.operands[1].definer.name == "sparsec.constant" for op in linears)
    assert not _ops(module, "sparsec.permute") or all(
        op.operands[0].definer.name != "sparsec.constant" for op in _ops(module, "sparsec.permute")
    )
    assert max(max_error(module, bert, inputs)) <= TOLERANCE


def test_plain_module_with_positional_inputs() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4),
                                torch.nn.Softmax(dim=-1))
    x = torch.randn(3, 8)
    module = import_model(model, (x,))
    from sparsec.ir.interpreter import interpret

    (ours,) = interpret(module, [x.numpy()])
    with torch.no_grad():
        expected = model(x).numpy()
    assert abs(ours - expected).max() <= TOLERANCE
    assert [op.properties["value"].key for op in _ops(module, "sparsec.constant")] == [
        "0.weight", "0.bias", "2.weight", "2.bias"]
