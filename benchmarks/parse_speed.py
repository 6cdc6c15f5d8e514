"""How fast the IR text form prints and parses a big module.

Builds one function that is a long chain of elementwise ops on a small tensor
(relu, neg, add, mul in turn), then times printing it, parsing it back
(without and with the verifier), and checks the round trip is exact.

    python benchmarks/parse_speed.py            # 100k ops
    python benchmarks/parse_speed.py --ops 20000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from sparsec.ir import Block, Operation, Region, verify
from sparsec.ir.attributes import StringAttr, TypeAttr
from sparsec.ir.dialects import sparsec as sp
from sparsec.ir.dialects.builtin import module
from sparsec.ir.dialects.func import Func, Return
from sparsec.ir.parser import parse_module
from sparsec.ir.printer import print_op
from sparsec.ir.types import FunctionType, tensor


def chain_module(num_ops: int) -> Operation:
    """``func.func @chain`` with ``num_ops`` elementwise ops, each using the previous result."""
    t = tensor((2, 16))
    block = Block([t, t])
    x, bias = block.args
    unary = [sp.Relu, sp.Neg]
    binary = [sp.Add, sp.Mul]
    for i in range(num_ops - 1):  # the return is the last op
        opdef = (unary + binary)[i % 4]
        operands = [x] if opdef in unary else [x, bias]
        op = opdef.build(operands)
        block.append(op)
        x = op.result
    block.append(Return.build([x], result_types=()))
    props = {"sym_name": StringAttr("chain"), "function_type": TypeAttr(FunctionType((t, t), (t,)))}
    return module([Func.build(properties=props, regions=[Region([block])], result_types=())])


def timed(label: str, run: Callable[[], object]) -> tuple[object, float]:
    """Runs ``run`` and prints its wall and CPU time (they differ on a busy machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<26} {wall:8.2f} s wall {cpu:8.2f} s cpu")
    return result, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=100_000, help="ops in the function")
    args = parser.parse_args()

    print(f"module: one function, {args.ops} ops")
    built, _ = timed("build", lambda: chain_module(args.ops))
    timed("verify", lambda: verify(built))
    text, print_seconds = timed("print", lambda: print_op(built))
    print(f"{'text size':<26} {len(text) / 1e6:8.2f} MB, {text.count(chr(10))} lines")
    timed("parse (no verifier)", lambda: parse_module(text, "chain.mlir", verify=False))
    parsed, parse_seconds = timed("parse + verify", lambda: parse_module(text, "chain.mlir"))
    again, _ = timed("print the parsed module", lambda: print_op(parsed))
    assert again == text, "round trip is not exact"
    print(f"{'parse + verify rate':<26} {args.ops / parse_seconds:8.0f} ops/s (cpu)")
    print(f"{'print rate':<26} {args.ops / print_seconds:8.0f} ops/s (cpu)")


if __name__ == "__main__":
    main()
