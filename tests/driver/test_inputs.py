"""Input checks of ``CompiledModel``: every bad input is an ``InputError`` naming it, before
anything runs. The model here runs a numpy function, so no library is needed."""

from __future__ import annotations

import numpy as np
import pytest

from sparsec.artifact import Manifest, TensorInfo
from sparsec.runtime import CompiledModel, InputError, check_input, random_inputs

IDS = TensorInfo("input_ids", (2, 4), "int64", upper_bound=10)
MASK = TensorInfo("attention_mask", (2, 4), "int64")
HIDDEN = TensorInfo("hidden", (2, 4), "float32")


def manifest(inputs=(IDS, MASK), outputs=(HIDDEN,)) -> Manifest:
    return Manifest(inputs=tuple(inputs), outputs=tuple(outputs), params=(),
                    target={"kind": "llvm"}, target_spec="llvm", threads=1, pipeline="",
                    weights=(), kernels={}, versions={}, created="2026-01-01T00:00:00+00:00")


class Recorder:
    """An executor that remembers its inputs and returns ids * mask as float32."""

    def __init__(self) -> None:
        self.calls: list[list[np.ndarray]] = []

    def __call__(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        self.calls.append(arrays)
        return [(arrays[0] * arrays[1]).astype(np.float32)]


@pytest.fixture
def model():
    recorder = Recorder()
    return CompiledModel(manifest(), recorder), recorder


def ids(value=3) -> np.ndarray:
    return np.full((2, 4), value, dtype=np.int64)


def test_positional_and_named_calls_agree(model):
    compiled, recorder = model
    by_position = compiled(ids(), np.ones((2, 4), np.int64))
    by_name = compiled(attention_mask=np.ones((2, 4), np.int64), input_ids=ids())
    mixed = compiled(ids(), attention_mask=np.ones((2, 4), np.int64))
    for result in (by_position, by_name, mixed):
        np.testing.assert_array_equal(result, np.full((2, 4), 3.0, np.float32))
    assert len(recorder.calls) == 3


def test_several_outputs_come_back_as_a_tuple():
    def two(arrays):
        return [arrays[0].astype(np.float32), arrays[1].astype(np.float32)]

    compiled = CompiledModel(manifest(outputs=(HIDDEN, HIDDEN)), two)
    result = compiled(ids(), np.ones((2, 4), np.int64))
    assert isinstance(result, tuple) and len(result) == 2


def test_python_lists_take_the_expected_dtype(model):
    compiled, recorder = model
    compiled([[1, 2, 3, 4], [5, 6, 7, 8]], [[1] * 4] * 2)
    sent = recorder.calls[-1]
    assert [a.dtype for a in sent] == [np.int64, np.int64]
    assert all(a.flags.c_contiguous for a in sent)


def test_torch_tensors_are_accepted(model):
    torch = pytest.importorskip("torch")
    compiled, recorder = model
    compiled(torch.full((2, 4), 3, dtype=torch.int64), torch.ones(2, 4, dtype=torch.int64))
    np.testing.assert_array_equal(recorder.calls[-1][0], ids())


def test_non_contiguous_arrays_are_made_contiguous(model):
    compiled, recorder = model
    compiled(np.full((4, 2), 3, np.int64).T, np.ones((2, 4), np.int64))
    assert recorder.calls[-1][0].flags.c_contiguous


BAD_CALLS = [
    ((np.zeros((2, 5), np.int64), np.ones((2, 4), np.int64)), {},
     "input 'input_ids': expected shape [2, 4], got [2, 5]"),
    ((np.zeros((2, 4), np.int32), np.ones((2, 4), np.int64)), {},
     "input 'input_ids': expected dtype int64, got int32"),
    ((np.zeros((2, 4), np.float32), np.ones((2, 4), np.int64)), {},
     "input 'input_ids': expected dtype int64, got float32"),
    ((ids(10), np.ones((2, 4), np.int64)), {},
     "input 'input_ids': value 10 at index [0, 0] is out of range (expected 0 <= value < 10)"),
    ((np.where(np.arange(8).reshape(2, 4) == 6, -1, 1), np.ones((2, 4), np.int64)), {},
     "input 'input_ids': value -1 at index [1, 2] is out of range"),
    ((), {"attention_mask": np.ones((2, 4), np.int64)}, "missing input 'input_ids' (int64[2, 4])"),
    ((), {}, "missing input 'input_ids' (int64[2, 4])"),  # attention_mask has a default
    ((ids(), np.ones((2, 4), np.int64)), {"token_type_ids": ids()},
     "unknown input 'token_type_ids' (the inputs are input_ids, attention_mask)"),
    ((ids(),), {"input_ids": ids()}, "input 'input_ids' given twice"),
    ((ids(), ids(), ids()), {}, "too many inputs: the model takes 2"),
    (([[0.5] * 4] * 2, np.ones((2, 4), np.int64)), {},
     "input 'input_ids': expected int64 values, got list of float64"),
    (([[1, 2], [3]], np.ones((2, 4), np.int64)), {}, "input 'input_ids': not an array"),
    (("abc", np.ones((2, 4), np.int64)), {}, "input 'input_ids': expected int64 values"),
    (([[2**70] * 4] * 2, np.ones((2, 4), np.int64)), {}, "input 'input_ids': expected int64"),
]


@pytest.mark.parametrize(("args", "named", "message"), BAD_CALLS,
                         ids=[m.split(":")[-1].strip()[:40] for _, _, m in BAD_CALLS])
def test_bad_inputs_are_one_line_errors_before_anything_runs(model, args, named, message):
    compiled, recorder = model
    with pytest.raises(InputError) as caught:
        compiled(*args, **named)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert recorder.calls == []


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)


def test_values_that_overflow_the_dtype_are_refused():
    small = TensorInfo("x", (2,), "int32")
    with pytest.raises(InputError, match="do not fit in int32"):
        check_input(small, [1, 2**40])


def test_random_inputs_are_valid():
    token_types = TensorInfo("token_type_ids", (2, 4), "int64", upper_bound=2)
    features = TensorInfo("features", (3,), "float32")
    arrays = random_inputs([IDS, MASK, token_types, features], seed=5)
    assert arrays["input_ids"].dtype == np.int64 and arrays["input_ids"].max() < 10
    assert arrays["input_ids"].min() >= 0
    np.testing.assert_array_equal(arrays["attention_mask"], np.ones((2, 4), np.int64))
    assert set(np.unique(arrays["token_type_ids"])) <= {0, 1}
    assert arrays["features"].dtype == np.float32
    for info in (IDS, MASK, token_types, features):
        check_input(info, arrays[info.name])
    again = random_inputs([IDS], seed=5)
    np.testing.assert_array_equal(again["input_ids"], arrays["input_ids"])
