"""Run-time sizes from the frontend: a model imported once for a range of batch and sequence sizes.

``batch`` / ``seq_len`` given as (min, max) export the model with torch.export Dims; the IR has
``?`` sizes read by ``sparsec.dim``, names them (``sparsec.dims``) and records their ranges, and the
reference interpreter runs it at any size in range, padded positions included, as PyTorch does.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import torch
import transformers
from conftest import TOLERANCE, max_error, tiny_model, token_inputs
from torch.export import Dim

from sparsec.frontend import FrontendError, import_model
from sparsec.frontend.archive_check import _bad_expr_name
from sparsec.frontend.loader import dynamic_shapes, hf_example_inputs, max_sequence_length
from sparsec.frontend.prune import prunable_weights, prune_state
from sparsec.ir.interpreter import interpret
from sparsec.ir.parser import parse_module
from sparsec.ir.printer import print_op
from sparsec.passes import PassManager, parse_pipeline

BATCH, SEQ = (1, 4), (1, 64)
DEFAULT_PIPELINE = ("canonicalize,cse,sparsity-analysis,block-shape-selection,sparsify,fusion,"
                    "canonicalize,dce")


def tiny_bert(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    config = transformers.BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=128, vocab_size=100,
                                     max_position_embeddings=64)
    return transformers.BertModel(config).eval()


@pytest.fixture(scope="module")
def bert() -> torch.nn.Module:
    return tiny_bert()


@pytest.fixture(scope="module")
def dynamic(bert):
    """The tiny BERT imported once for batch 1..4 and sequence 1..64."""
    return import_model(bert, batch=BATCH, seq_len=SEQ)


def padded_inputs(batch: int, seq: int, seed: int = 0) -> list[np.ndarray]:
    """Random ids and token types, and a mask whose rows end in padding of different lengths."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 100, (batch, seq))
    mask = np.ones((batch, seq), np.int64)
    for row in range(batch):
        mask[row, max(1, seq - 2 * row - 1):] = 0  # row 0 keeps seq - 1 tokens (all when seq=1)
    types = rng.integers(0, 2, (batch, seq))
    return [ids, mask, types]


def errors(module, model: torch.nn.Module, inputs: list[np.ndarray]) -> list[float]:
    ours = interpret(module, inputs)
    with torch.no_grad():
        theirs = model(*(torch.from_numpy(x) for x in inputs))
    expected = [theirs.last_hidden_state.numpy(), theirs.pooler_output.numpy()]
    assert [a.shape for a in ours] == [b.shape for b in expected]
    return [float(np.abs(a - b).max()) for a, b in zip(ours, expected, strict=True)]


@pytest.mark.parametrize("batch,seq", [(1, 1), (1, 7), (3, 16), (4, 64)])
def test_one_import_matches_torch_at_every_size_in_range(dynamic, bert, batch, seq):
    inputs = padded_inputs(batch, seq, seed=batch * 100 + seq)
    assert max(errors(dynamic, bert, inputs)) <= TOLERANCE


def test_the_ir_names_its_sizes_and_takes_them_as_operands(dynamic):
    text = print_op(dynamic, elide_resources=True)
    assert "^bb0(%arg0: tensor<?x?xi64>, %arg1: tensor<?x?xi64>, %arg2: tensor<?x?xi64>)" in text
    assert text.count('sparsec.dims = ["batch", "seq"]') == 3
    assert "sparsec.dim_ranges = {batch = array<i64: 1, 4>, seq = array<i64: 1, 64>}" in text
    # batch and seq are each read once, from input_ids
    assert len(re.findall(r'"sparsec.dim"\(%arg0\) <\{axis = 0\}>', text)) == 1
    assert len(re.findall(r'"sparsec.dim"\(%arg0\) <\{axis = 1\}>', text)) == 1
    assert text.count('"sparsec.dim"') == 2
    assert re.search(r'"sparsec.reshape"\(%\d+, %\d+, %\d+\) <\{shape = array<i64: -1, -1, 2, 32>'
                     r'\}> : \(tensor<\?x\?x64xf32>, index, index\) -> tensor<\?x\?x2x32xf32>',
                     text)
    assert re.search(r'"sparsec.slice"\(%\d+, %\d+\) <\{axis = 1, end = -1, start = 0, step = 1\}>'
                     r' : \(tensor<1x64xi64>, index\) -> tensor<1x\?xi64>', text)
    assert '"sparsec.arange"' in text and '"sparsec.index"' in text
    assert "-> tensor<?x1x?x?xi1>" in text  # the padding mask, [batch, 1, seq, seq]


def test_ir_round_trips_through_text_and_still_runs(dynamic, bert):
    text = print_op(dynamic)
    parsed = parse_module(text)
    assert print_op(parsed) == text
    inputs = padded_inputs(2, 9, seed=5)
    for ours, theirs in zip(interpret(parsed, inputs), interpret(dynamic, inputs), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_the_default_passes_keep_the_meaning_of_a_pruned_model(bert):
    pruned = copy.deepcopy(bert)
    state = pruned.state_dict()
    result = prune_state(state, prunable_weights(state), (32, 1), 0.9)
    assert result.sparsity >= 0.85
    module = import_model(pruned, batch=BATCH, seq_len=SEQ)
    PassManager(parse_pipeline(DEFAULT_PIPELINE)).run(module)
    text = print_op(module, elide_resources=True)
    assert text.count('"sparsec.bsr_linear"') == 12  # every encoder linear went sparse
    for batch, seq in [(1, 5), (4, 33)]:
        inputs = padded_inputs(batch, seq, seed=seq)
        assert max(errors(module, pruned, inputs)) <= TOLERANCE


def test_a_batch_range_with_a_fixed_sequence(bert):
    module = import_model(bert, batch=(1, 8), seq_len=12)
    text = print_op(module, elide_resources=True)
    assert "^bb0(%arg0: tensor<?x12xi64>" in text
    assert 'sparsec.dims = ["batch"]' in text
    assert "sparsec.dim_ranges = {batch = array<i64: 1, 8>}" in text
    for batch in (1, 6):
        assert max(errors(module, bert, padded_inputs(batch, 12, seed=batch))) <= TOLERANCE


def test_a_range_of_two_is_one_size_in_every_input(bert):
    # torch gives each input its own symbol for a range of 1..2 although the Dim is shared
    module = import_model(bert, batch=(1, 2), seq_len=(1, 2))
    text = print_op(module, elide_resources=True)
    assert text.count('sparsec.dims = ["batch", "seq"]') == 3
    assert "sparsec.dim_ranges = {batch = array<i64: 1, 2>, seq = array<i64: 1, 2>}" in text
    assert text.count('"sparsec.dim"') == 2
    for batch, seq in [(1, 1), (2, 2), (2, 1)]:
        assert max(errors(module, bert, padded_inputs(batch, seq, seed=seq))) <= TOLERANCE


def test_a_range_of_one_size_is_that_size_and_static_imports_have_no_run_time_sizes(bert):
    static = print_op(import_model(bert, batch=2, seq_len=8), elide_resources=True)
    assert print_op(import_model(bert, batch=(2, 2), seq_len=(8, 8)),
                    elide_resources=True) == static
    for marker in ('"sparsec.dim"', '"sparsec.arange"', '"sparsec.index"', "?", "sparsec.dims",
                   "dim_ranges"):
        assert marker not in static


def test_example_inputs_for_ranges_lie_inside_and_avoid_torch_specialisation(bert):
    inputs = hf_example_inputs(bert, batch=(1, 4), seq_len=(1, 64))
    assert [tuple(v.shape) for v in inputs.values()] == [(2, 8)] * 3
    inputs = hf_example_inputs(bert, batch=(1, 2), seq_len=(2, 3))
    assert tuple(inputs["input_ids"].shape) == (2, 3)  # distinct sizes stay distinct symbols
    dims = dynamic_shapes(inputs, (1, 2), None)
    assert set(dims) == set(inputs) and all(set(spec) == {0} for spec in dims.values())
    assert dynamic_shapes(inputs, 2, 3) is None


@pytest.mark.parametrize("options,message", [
    ({"seq_len": (1, 65)}, "seq_len range 1..65 exceeds the 64 positions of the model"),
    ({"batch": (4, 2)}, "batch range 4..2: its min is above its max"),
    ({"seq_len": (0, 8)}, "seq_len range 0..8: sizes start at 1"),
    ({"batch": (1, 2, 3)}, "batch must be a size or a (min, max) range, got (1, 2, 3)"),
])
def test_bad_ranges_are_one_line_errors(bert, options, message):
    with pytest.raises(FrontendError) as error:
        import_model(bert, **options)
    assert str(error.value) == message


class Heads(torch.nn.Module):
    """A linear then a split into heads: the shape of attention's input projection."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.proj(x)).reshape(x.shape[0], x.shape[1], 2, 2)


def test_a_saved_export_with_dynamic_shapes_keeps_its_sizes_and_ranges(tmp_path):
    model = Heads().eval()
    program = torch.export.export(model, (torch.ones(3, 5, 8),), dynamic_shapes=(
        {0: Dim("b", max=16), 1: Dim("s", min=2, max=9)},))
    torch.export.save(program, tmp_path / "heads.pt2")
    module = import_model(tmp_path / "heads.pt2", batch=(1, 16))
    text = print_op(module, elide_resources=True)
    names = re.search(r'sparsec.dims = \["(s\d+)", "(s\d+)"\]', text).groups()
    assert f"{names[0]} = array<i64: 1, 16>" in text and f"{names[1]} = array<i64: 2, 9>" in text
    for shape in [(1, 2, 8), (16, 9, 8)]:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        (ours,) = interpret(module, [x])
        np.testing.assert_allclose(ours, model(torch.from_numpy(x)).detach().numpy(),
                                   atol=TOLERANCE)


def test_a_size_without_a_max_is_an_error():
    program = torch.export.export(Heads().eval(), (torch.ones(3, 5, 8),),
                                  dynamic_shapes=({0: Dim("b")},))
    with pytest.raises(FrontendError, match=r"^no upper bound for size s\d+; give dynamic_shapes "
                                            r"a max$"):
        import_model(program)


def test_a_range_of_a_model_saved_at_fixed_shapes_is_refused(tmp_path):
    model = Heads().eval()
    program = torch.export.export(model, (torch.ones(3, 5, 8),))
    torch.export.save(program, tmp_path / "static.pt2")
    fixed = ("was saved at fixed shapes; compile the Hugging Face directory (or an export with "
             "dynamic_shapes) to get a range")
    with pytest.raises(FrontendError) as error:
        import_model(tmp_path / "static.pt2", seq_len=(1, 8))
    assert str(error.value) == f"'{tmp_path / 'static.pt2'}' {fixed}"
    with pytest.raises(FrontendError) as error:
        import_model(program, batch=(1, 8))
    assert str(error.value) == f"the exported program {fixed}"
    with torch.no_grad():
        torch.jit.trace(model, torch.ones(3, 5, 8)).save(str(tmp_path / "model.pt"))
    with pytest.raises(FrontendError) as error:
        import_model(tmp_path / "model.pt", batch=(1, 8))
    assert str(error.value) == f"'{tmp_path / 'model.pt'}' is a TorchScript archive that {fixed}"


def test_a_size_that_is_an_expression_of_sizes_is_reported_with_its_source():
    class Flatten(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.reshape(-1) * 2

    with pytest.raises(FrontendError) as error:
        import_model(Flatten(), (torch.ones(2, 8),), batch=(1, 4), seq_len=(1, 16))
    assert "aten.view.default in <root module> (test_dynamic_import.py:" in str(error.value)
    assert "size batch*seq is not a plain batch or sequence size" in str(error.value)


@pytest.mark.parametrize("arch", ["roberta", "distilbert", "albert", "electra"])
def test_other_families_take_ranges(arch):
    model = tiny_model(arch, "ForSequenceClassification")
    longest = max_sequence_length(model.config)
    module = import_model(model, batch=(1, 3), seq_len=(1, longest))
    for batch, seq in [(1, 1), (3, longest)]:
        inputs = token_inputs(model, batch, seq)
        assert max(max_error(module, model, inputs)) <= TOLERANCE


def test_a_run_time_size_used_as_a_value_is_reported():
    class CompareWithLength(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x < x.shape[1]).float() + x

    with pytest.raises(FrontendError) as error:
        import_model(CompareWithLength(), (torch.ones(2, 8),), batch=(1, 4), seq_len=(1, 16))
    assert "aten.lt.Scalar in <root module> (test_dynamic_import.py:" in str(error.value)
    assert "the run-time size seq is used as a value, which is not supported" in str(error.value)


def test_a_slice_to_the_end_of_a_run_time_size():
    class DropFirst(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, 2:]

    module = import_model(DropFirst(), (torch.ones(2, 8),), batch=(1, 4), seq_len=(4, 16))
    x = np.random.default_rng(0).standard_normal((3, 11)).astype(np.float32)
    np.testing.assert_array_equal(interpret(module, [x])[0], x[:, 2:])


@pytest.mark.parametrize("expr,bad", [
    ("Symbol('s27', positive=True, integer=True)", None),
    ("Mul(Integer(8), Symbol('s27', positive=True, integer=True))", None),
    ("Symbol('os', positive=True)", "'"),  # a quoted string that is no shape symbol
    ("Symbol('s1', positive=__import__('os'))", "__import__"),
])
def test_a_saved_dynamic_size_is_checked_before_sympy_evaluates_it(expr, bad):
    assert _bad_expr_name(expr) == bad
