"""The Operation / Value API that passes use: operands, uses, mutation, order, cloning."""

from __future__ import annotations

import random

import pytest

from sparsec.ir import Block, IRError, Operation, Use, VerificationError, lookup, verify
from sparsec.ir.attributes import IntegerAttr
from sparsec.ir.dialects.builtin import module
from sparsec.ir.dialects.func import Return, func
from sparsec.ir.types import f32, tensor

T = tensor((2, 3), f32)


def op(name: str, *operands, **props) -> Operation:
    return lookup(f"sparsec.{name}").build(list(operands), props)


def function(n_args: int = 2):
    """A `forward` function with ``n_args`` arguments and an empty body."""
    f = func("forward", [T] * n_args, [T])
    return f, f.regions[0].block


def test_operands_results_and_uses():
    f, body = function()
    x, y = body.args
    add = body.append(op("add", x, y))
    mul = body.append(op("mul", add.result, add.result))
    ret = body.append(Return.build([mul.result]))
    assert add.operands == (x, y)
    assert add.result.op is add and add.result.index == 0 and add.result.type == T
    assert add.result.uses == [Use(mul, 0), Use(mul, 1)]
    assert add.result.users == [mul] and add.users == [mul]
    assert mul.users == [ret] and not ret.has_uses
    assert x.users == [add] and x.definer is x and x.block is body
    assert mul.parent is body and body.parent_op is f and mul.parent_op is f


def test_result_of_a_multi_result_op_must_be_indexed():
    with pytest.raises(IRError, match="has 0 results, not one"):
        _ = Return.build([]).result


def test_set_operand_moves_the_use():
    _, body = function()
    x, y = body.args
    neg = body.append(op("neg", x))
    neg.set_operand(0, y)
    assert neg.operands == (y,)
    assert not x.has_uses and y.users == [neg]


def test_replace_all_uses_with():
    _, body = function()
    x, y = body.args
    a = body.append(op("add", x, y))
    b = body.append(op("sub", a.result, x))
    c = body.append(op("mul", a.result, a.result))
    a.result.replace_all_uses_with(y)
    assert b.operands == (y, x) and c.operands == (y, y)
    assert not a.has_uses
    assert sorted(u.index for u in y.uses if u.user is c) == [0, 1]


def test_operation_replace_all_uses_checks_the_result_count():
    _, body = function()
    a = body.append(op("neg", body.args[0]))
    with pytest.raises(IRError, match=r"replacing 1 results of 'sparsec\.neg' with 2"):
        a.replace_all_uses_with(list(body.args))


def test_operand_from_another_block_is_refused():
    _, body = function()
    _, other = function()
    stray = op("neg", other.args[0])
    with pytest.raises(IRError, match="defined outside its block"):
        body.append(stray)
    assert stray.parent is None and body.ops == []
    neg = body.append(op("neg", body.args[0]))
    with pytest.raises(IRError, match="defined outside its block"):
        neg.set_operand(0, other.args[0])


def test_append_keeps_insertion_order_of_independent_ops():
    _, body = function()
    x = body.args[0]
    first, second, third = op("exp", x), op("neg", x), op("abs", x)
    body.append(third)  # creation order must not matter, only insertion order
    body.append(first)
    body.append(second)
    assert body.ops == [third, first, second]


def test_insert_before_places_the_op_immediately_before():
    _, body = function()
    x = body.args[0]
    a, b, c = (body.append(op(name, x)) for name in ("exp", "neg", "abs"))
    d = body.insert(op("tanh", x), before=c)
    e = body.insert(op("relu", x), before=c)
    g = body.insert(op("sqrt", x), before=a)
    assert body.ops == [g, a, b, d, e, c]


def test_many_inserts_before_keep_a_consistent_order():
    _, body = function()
    x = body.args[0]
    rng = random.Random(0)
    for step in range(300):
        ops = body.ops
        operand = rng.choice([x, *(o.result for o in ops[-3:])])
        before = rng.choice(ops) if ops and step % 4 else None
        new = body.insert(op("neg", operand), before=before)
        now = body.ops
        if before is not None and (operand is x or ops.index(operand.op) < ops.index(before)):
            assert now.index(new) == now.index(before) - 1
    order = body.ops
    body.changed()  # forget the cached order: sorting the graph again must agree
    assert body.ops == order
    for position, o in enumerate(order):
        assert all(v is x or order.index(v.definer) < position for v in o.operands)


def test_insert_before_respects_dependencies():
    _, body = function()
    x = body.args[0]
    a = body.append(op("exp", x))
    b = body.append(op("neg", x))
    # Asked to go before `a` but it uses `b`: it lands right after `b` instead.
    late = body.insert(op("add", b.result, x), before=a)
    assert body.ops.index(late) > body.ops.index(b)


def test_terminator_stays_last():
    _, body = function()
    x = body.args[0]
    ret = body.append(Return.build([x]))
    after = body.append(op("neg", x))
    assert body.ops == [after, ret] and body.terminator is ret


def test_second_terminator_is_reported():
    f, body = function()
    x = body.args[0]
    body.append(Return.build([x]))
    body.append(Return.build([x]))
    with pytest.raises(VerificationError, match="is a terminator but is not last"):
        verify(f)


def test_erase():
    _, body = function()
    x = body.args[0]
    a = body.append(op("neg", x))
    b = body.append(op("exp", a.result))
    with pytest.raises(IRError, match=r"cannot erase 'sparsec\.neg': .* used by 'sparsec\.exp'"):
        a.erase()
    b.erase()
    a.erase()
    assert body.ops == [] and len(body) == 0 and a.parent is None and not x.has_uses


def test_erased_op_can_be_inserted_again():
    _, body = function()
    a = body.append(op("neg", body.args[0]))
    a.erase()
    body.append(a)
    assert body.ops == [a]
    with pytest.raises(IRError, match="already in a block"):
        body.append(a)


def test_walk_is_preorder_in_block_order():
    f, body = function()
    x, y = body.args
    a = body.append(op("add", x, y))
    b = body.append(op("exp", a.result))
    ret = body.append(Return.build([b.result]))
    m = module([f])
    assert list(m.walk()) == [m, f, a, b, ret]


def test_clone_is_deep_and_independent():
    f, body = function()
    x, y = body.args
    a = body.append(op("add", x, y))
    a.attributes["note"] = IntegerAttr(1)
    body.append(Return.build([a.result]))
    m = module([f])
    copy = m.clone()
    verify(copy)
    names = [o.name for o in copy.walk()]
    assert names == [o.name for o in m.walk()]
    copied_f = copy.regions[0].block.ops[0]
    copied_body = copied_f.regions[0].block
    copied_add = copied_body.ops[0]
    assert copied_add is not a and copied_add.operands == tuple(copied_body.args)
    assert copied_add.attributes == a.attributes and copied_add.attributes is not a.attributes
    # Mutating the copy leaves the original untouched.
    copied_add.attributes["note"] = IntegerAttr(2)
    copied_add.set_operand(1, copied_body.args[0])
    copied_f.properties["sym_name"] = IntegerAttr(0)
    assert a.operands == (x, y) and a.attributes["note"] == IntegerAttr(1)
    assert f.properties["sym_name"].value == "forward"
    assert x.users == [a]


def test_clone_with_mapping_remaps_operands():
    _, body = function()
    x, y = body.args
    a = body.append(op("neg", x))
    copy = a.clone({x: y})
    assert copy.operands == (y,) and copy.parent is None
    body.append(copy)
    assert y.users == [copy]


def test_order_is_deterministic_across_rebuilds():
    def build():
        _, body = function()
        x, y = body.args
        for name in ("exp", "neg", "abs", "tanh"):
            body.append(op(name, x))
        body.append(op("add", x, y))
        return [o.name for o in body.ops]

    assert build() == build() == [
        "sparsec.exp", "sparsec.neg", "sparsec.abs", "sparsec.tanh", "sparsec.add",
    ]


def test_cycle_is_reported_by_the_verifier():
    f, body = function()
    x = body.args[0]
    a = body.append(op("neg", x))
    b = body.append(op("exp", a.result))
    body.append(Return.build([b.result]))
    a.set_operand(0, b.result)  # a -> b -> a
    with pytest.raises(IRError, match="cycle"):
        _ = body.ops
    with pytest.raises(VerificationError, match="has a cycle"):
        verify(module([f]))


def test_verifier_checks_operand_counts_and_registration():
    _, body = function()
    bad = Operation("sparsec.neg", list(body.args), [T])
    with pytest.raises(VerificationError, match="expects 1 operands, got 2"):
        verify(bad)
    with pytest.raises(VerificationError, match="is not a registered operation"):
        verify(Operation("mydialect.op", [], []))


def test_valid_module_verifies():
    f, body = function()
    x, y = body.args
    body.append(Return.build([body.append(op("add", x, y)).result]))
    verify(module([f]))


def test_block_arguments_are_typed_and_indexed():
    block = Block([T, tensor((4,), f32)])
    assert [a.index for a in block.args] == [0, 1]
    assert block.args[1].type == tensor((4,), f32)
    extra = block.add_argument(T)
    assert extra.index == 2 and extra.block is block
