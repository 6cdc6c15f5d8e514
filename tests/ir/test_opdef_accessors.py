"""Views generated from op definitions: operands and properties by name, never by position."""

from __future__ import annotations

import pytest

from sparsec.ir import IRError
from sparsec.ir.attributes import (
    DenseElementsAttr,
    DictAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    i64_array,
)
from sparsec.ir.core import Block, Operation
from sparsec.ir.dialects.func import Func, func, set_names
from sparsec.ir.dialects.sparsec import (
    Attention,
    BsrLinear,
    Concat,
    Constant,
    LayerNorm,
    Linear,
    Reshape,
    Slice,
)
from sparsec.ir.opdef import OpDef, OperandDef, OpView
from sparsec.ir.types import f32, i32, tensor


def args(*types):
    return Block(types).args


def test_linear_operands_by_name_and_absent_bias():
    x, w, b = args(tensor((2, 8), f32), tensor((4, 8), f32), tensor((4,), f32))
    with_bias = Linear(Linear.build([x, w, b]))
    assert (with_bias.input, with_bias.weight, with_bias.bias) == (x, w, b)
    assert Linear(Linear.build([x, w])).bias is None


def test_optional_operand_after_required_ones():
    x, data, indices, indptr, bias = args(
        tensor((2, 8), f32), tensor((3, 2, 1), f32), tensor((3,), i32), tensor((3,), i32),
        tensor((4,), f32))
    props = {"block_shape": i64_array((2, 1)), "dense_shape": i64_array((4, 8))}
    view = BsrLinear(BsrLinear.build([x, data, indices, indptr, bias], props))
    assert (view.data, view.indices, view.indptr, view.bias) == (data, indices, indptr, bias)
    assert view.block_shape == (2, 1) and view.dense_shape == (4, 8)
    assert BsrLinear(BsrLinear.build([x, data, indices, indptr], props)).bias is None


def test_two_optional_operands_fill_in_order():
    x, w = args(tensor((2, 4), f32), tensor((4,), f32))
    props = {"normalized_shape": i64_array((4,)), "epsilon": FloatAttr(1e-5)}
    view = LayerNorm(LayerNorm.build([x, w], props))
    assert view.weight is w and view.bias is None
    assert view.normalized_shape == (4,) and view.epsilon == pytest.approx(1e-5)


def test_variadic_operand_reads_as_a_tuple():
    a, b = args(tensor((1, 2), f32), tensor((3, 2), f32))
    view = Concat(Concat.build([a, b], {"axis": IntegerAttr(0)}))
    assert view.inputs == (a, b)
    assert view.axis == 0


def test_properties_read_as_python_values():
    q, k, v = args(*[tensor((2, 4, 8), f32)] * 3)
    attention = Attention(Attention.build([q, k, v], {"scale": FloatAttr(0.125)}))
    assert attention.scale == 0.125 and attention.mask is None and attention.value is v
    (x,) = args(tensor((2, 6), f32))
    assert Reshape(Reshape.build([x], {"shape": i64_array((3, 4))})).shape == (3, 4)
    props = {name: IntegerAttr(n) for name, n in
             (("axis", 1), ("start", 0), ("end", 4), ("step", 2))}
    assert Slice(Slice.build([x], props)).step == 2
    f = func("forward", [], [])
    assert Func(f).sym_name == "forward" and Func(f).sym_visibility is None
    set_names(f, [], [])
    assert Func(f).arg_attrs == ()  # an ArrayAttr reads as a tuple of plain values


def test_attributes_without_a_plain_value_are_returned_as_they_are():
    attr = DenseElementsAttr(tensor((2,), f32), [1.0, 2.0])
    assert Constant(Constant.build(properties={"value": attr})).value is attr
    f = func("forward", [tensor((2,), f32)], [])
    set_names(f, ["x"], [])
    (entry,) = Func(f).arg_attrs
    assert isinstance(entry, DictAttr) and entry["sparsec.name"] == StringAttr("x")


def test_a_view_refuses_an_op_of_another_name():
    (x,) = args(tensor((2, 6), f32))
    with pytest.raises(IRError, match=r"'sparsec\.reshape' op viewed as 'sparsec\.linear'"):
        Linear(Reshape.build([x], {"shape": i64_array((12,))}))


def test_missing_required_operand_or_property_is_an_ir_error():
    (x,) = args(tensor((2, 8), f32))
    half_built = Operation("sparsec.linear", [x], [tensor((2, 4), f32)])
    with pytest.raises(IRError, match="has no operand 'weight'"):
        _ = Linear(half_built).weight
    with pytest.raises(IRError, match="has no property 'scale'"):
        _ = Attention(Operation("sparsec.attention", [x, x, x], [x.type])).scale


def test_each_definition_has_its_own_view_class():
    assert issubclass(Linear.view, OpView) and Linear.view.opdef is Linear
    assert Linear.view is not BsrLinear.view
    assert isinstance(Linear.view.bias, property)
    assert not hasattr(Linear.view, "scale")


def test_names_that_would_hide_the_view_or_each_other_are_refused():
    with pytest.raises(ValueError, match=r"cannot name an operand or property \['op'\]"):
        OpDef("test.bad", operands=(OperandDef("op"),))
    with pytest.raises(ValueError, match=r"\['x'\]"):
        OpDef("test.twice", operands=(OperandDef("x"), OperandDef("x")))
