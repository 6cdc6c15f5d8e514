"""End to end: BERT-family models compiled by build_module against PyTorch eager; the
unscheduled-PrimFunc check; kernel sharing across layers."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
import transformers
import tvm
from tvm import relax, te

from sparsec.codegen.build import build_module, run_built, schedule_relax
from sparsec.codegen.schedule import UnscheduledError, check_scheduled, schedule_func
from sparsec.frontend import import_model
from sparsec.frontend.prune import prunable_weights, prune_state
from sparsec.passes import PassManager, parse_pipeline

torch.set_num_threads(2)
transformers.logging.set_verbosity_error()

PIPELINE = "canonicalize,cse,sparsity-analysis,block-shape-selection,sparsify,fusion,dce"
SEQ = 16
SMALL = {"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128,
         "vocab_size": 200}
MODELS = {
    "bert": (transformers.BertModel, transformers.BertConfig, SMALL),
    "roberta": (transformers.RobertaModel, transformers.RobertaConfig, SMALL),
    "distilbert": (transformers.DistilBertModel, transformers.DistilBertConfig,
                   {"dim": 64, "n_heads": 4, "hidden_dim": 128, "vocab_size": 200}),
    "albert": (transformers.AlbertModel, transformers.AlbertConfig,
               {**SMALL, "embedding_size": 32}),
    "electra": (transformers.ElectraModel, transformers.ElectraConfig,
                {**SMALL, "embedding_size": 48}),
}


def make_model(kind: str = "bert", layers: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    model_class, config_class, options = MODELS[kind]
    key = "n_layers" if kind == "distilbert" else "num_hidden_layers"
    return model_class(config_class(**options, **{key: layers})).eval()


def compiled(model: torch.nn.Module, target, pipeline: str = PIPELINE):
    module = import_model(model, seq_len=SEQ)
    PassManager(parse_pipeline(pipeline)).run(module)
    return build_module(module, target)


def token_inputs(built, seed: int = 0) -> list[np.ndarray]:
    """Random ids below each input's bound; a padded tail in the attention mask."""
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in built.inputs:
        if spec.name == "attention_mask":
            array = np.ones(spec.shape, spec.dtype)
            array[..., -3:] = 0
        else:
            array = rng.integers(0, spec.upper_bound or 2, spec.shape).astype(spec.dtype)
        arrays.append(array)
    return arrays


def assert_matches_torch(model, built, atol: float = 1e-4) -> None:
    inputs = token_inputs(built)
    with torch.no_grad():
        expected = model(**{s.name: torch.from_numpy(a) for s, a in
                            zip(built.inputs, inputs, strict=True)})
    outputs = run_built(built, inputs)
    for spec, got in zip(built.outputs, outputs, strict=True):
        want = expected[spec.name].numpy()
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= atol, f"{spec.name}: {np.abs(got - want).max()}"


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_dense_models_match_torch(kind, target):
    model = make_model(kind)
    built = compiled(model, target)
    assert built.kernels.get("dense_linear", 0) >= 1
    assert_matches_torch(model, built)


def test_bert_pruned_90_percent_in_32x1_blocks_matches_torch(target):
    model = make_model()
    state = model.state_dict()
    prune_state(state, prunable_weights(state), (32, 1), 0.9)
    built = compiled(model, target, PIPELINE.replace("block-shape-selection",
                                                     "block-shape-selection{force=32x1}"))
    assert built.kernels.get("bsr_linear", 0) >= 1
    assert any(name.endswith(":rows") for name in built.param_names)  # packed [nnzb, C, R]
    assert_matches_torch(model, built)


def test_signature_and_bounds(target):
    built = compiled(make_model(), target)
    assert [s.name for s in built.inputs] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [s.upper_bound for s in built.inputs] == [200, None, 2]
    assert [(s.name, s.shape) for s in built.outputs] == [
        ("last_hidden_state", (1, SEQ, 64)), ("pooler_output", (1, 64))]
    assert len(built.param_names) == len(set(built.param_names)) == len(built.params)


def test_the_vm_checks_the_inputs_but_not_the_weights_on_every_call(target):
    # the runtime checks the weights once at load; per call they cost ~1 ms of VM builtins
    built = compiled(make_model(), target)
    checks = built.executable.as_text().count("vm.builtin.check_tensor_info")
    assert len(built.inputs) <= checks < len(built.inputs) + len(built.params)


def test_kernels_are_shared_across_layers(target):
    two, four = compiled(make_model(layers=2), target), compiled(make_model(layers=4), target)
    assert four.kernels == two.kernels
    assert len(four.params) > len(two.params)


def test_progress_stages(target):
    module = import_model(make_model(layers=1), seq_len=SEQ)
    stages = []
    build_module(module, target, progress=stages.append)
    assert stages == ["lowering", "scheduling", "compiling"]


def _copy_module(size: int) -> tvm.IRModule:
    x = te.placeholder((size,), "float32", name="x")
    y = te.compute((size,), lambda i: x[i] * 2.0, name="y")
    return tvm.IRModule({"double": te.create_prim_func([x, y])})


def test_unscheduled_primfunc_is_refused():
    mod = _copy_module(1 << 16)
    with pytest.raises(UnscheduledError, match="double"):
        check_scheduled(mod)
    mod["double"] = schedule_func(mod["double"], lanes=8)
    check_scheduled(mod)  # parallel and vectorized now


def test_small_primfuncs_need_no_schedule():
    check_scheduled(_copy_module(64))


def test_schedule_relax_schedules_every_legalized_op(target):
    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((64, 512), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            y = bb.emit(relax.op.nn.softmax(relax.op.exp(x), axis=1))
            out = bb.emit_output(relax.op.permute_dims(y, [1, 0]))
        bb.emit_func_output(out)
    check_scheduled(schedule_relax(bb.get(), target))
