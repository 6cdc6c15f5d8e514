"""Seeded mutation fuzzing of the IR text form: parse -> verify -> print -> parse.

``mutate`` edits a valid IR text the way a careless hand, a broken tool or an
attacker would: flipped and deleted characters, duplicated spans, swapped
tokens, truncation, digit runs inflated past every integer limit, attributes
and regions nested thousands deep, and splats of absurdly large tensors.
``run_one`` pushes one text through the pipeline and classifies the outcome;
anything but a ``ParseError`` escaping is a bug, and so is an accepted text
that does not print back to itself.

    python tests/ir/ir_fuzz.py --mutants 12000      # the long run, by hand
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sparsec.ir.diagnostics import ParseError
from sparsec.ir.parser import parse_module
from sparsec.ir.printer import print_op

ROOT = Path(__file__).resolve().parents[2]
SEEDS = {
    "micro_bert": ROOT / "examples" / "micro_bert.mlir",
    "tiny_bert_import": Path(__file__).with_name("fixtures") / "tiny_bert_import.mlir",
}

# Characters a flip may write: printable ASCII plus the awkward ones (NUL, tab, CR, a non-ASCII
# letter, and line separators that str.splitlines() honours but the lexer does not).
_ALPHABET = [chr(c) for c in range(0x20, 0x7F)] + ["\0", "\t", "\r", "\n", "é", "\u2028", "\x0c"]
_HUGE_NUMBERS = [
    "9" * 19, "99999999999999999999", str(2**62), str(2**62 - 1), str(2**63), str(2**63 - 1),
    str(2**64), "-" + str(2**63 + 1), "1" + "0" * 40, "9" * 4301, "9" * 20000, "0" * 5000 + "7",
]
_DEPTHS = [40, 60, 100, 118, 125, 126, 127, 128, 129, 256, 1000, 5000, 20000]
_TOKEN = re.compile(r'%[\w#:$.-]+|\^\w+|"(?:[^"\\\n]|\\.)*"|tensor<[^>\n]*>|[\w.]+|->|\S')
_DIGITS = re.compile(r"[0-9]+")
_TENSOR = re.compile(r"tensor<([0-9x?]*)([a-z][a-z0-9]*)>")
_DENSE = re.compile(r"dense<[^>]*> : tensor<[^>]*>")


def _op_part(text: str) -> int:
    """Where the resource section starts (mutations mostly aim before it: the ops are there)."""
    start = text.find("{-#")
    return len(text) if start < 0 else start


def _position(rng: random.Random, text: str) -> int:
    end = _op_part(text) if rng.random() < 0.85 else len(text)
    return rng.randrange(max(end, 1))


def flip(rng: random.Random, text: str) -> str:
    at = _position(rng, text)
    return text[:at] + rng.choice(_ALPHABET) + text[at + 1 :]


def delete(rng: random.Random, text: str) -> str:
    at = _position(rng, text)
    return text[:at] + text[at + rng.choice([1, 1, 2, 5, 17, 300]) :]


def duplicate(rng: random.Random, text: str) -> str:
    start = _position(rng, text)
    span = text[start : start + rng.choice([1, 3, 12, 80, 400])]
    at = _position(rng, text)
    return text[:at] + span * rng.choice([1, 1, 2, 50]) + text[at:]


def truncate(rng: random.Random, text: str) -> str:
    return text[: _position(rng, text)]


def swap_tokens(rng: random.Random, text: str) -> str:
    tokens = list(_TOKEN.finditer(text, 0, _op_part(text)))
    if len(tokens) < 2:  # (an earlier edit of the same mutant may have cut nearly everything)
        return text
    a, b = sorted(rng.sample(tokens, 2), key=lambda m: m.start())
    if a.end() > b.start():
        return text
    return (text[: a.start()] + b[0] + text[a.end() : b.start()] + a[0] + text[b.end() :])


def inflate_digits(rng: random.Random, text: str) -> str:
    """A digit run (a dimension, a value, a result number, an alignment) becomes huge."""
    runs = list(_DIGITS.finditer(text, 0, _op_part(text)))
    literals = [run for run in runs if text[run.start() - 1 : run.start()] in ("[", " ", "-")]
    if not runs:
        return text + rng.choice(_HUGE_NUMBERS)
    # Half the time a literal (most runs are dimensions and value names).
    run = rng.choice(literals if literals and rng.random() < 0.5 else runs)
    return text[: run.start()] + rng.choice(_HUGE_NUMBERS) + text[run.end() :]


def huge_dimension(rng: random.Random, text: str) -> str:
    """Every use of one tensor type gets a huge dimension, so the module stays consistent."""
    types = sorted({m[0] for m in _TENSOR.finditer(text, 0, _op_part(text))})
    if not types:
        return text
    old = rng.choice(types)
    dims, element = _TENSOR.fullmatch(old).groups()
    parts = dims.split("x")[:-1] or ["1"]
    parts[rng.randrange(len(parts))] = rng.choice([*_HUGE_NUMBERS[:9], "1000000000000"])
    return text.replace(old, f"tensor<{'x'.join(parts)}x{element}>")


def deep_nesting(rng: random.Random, text: str) -> str:
    """An attribute, a type or a region nested thousands deep."""
    depth = rng.choice(_DEPTHS)
    kind = rng.choice(["array", "dict", "dense", "type", "region", "func"])
    if kind in ("region", "func"):
        depth = min(depth, 5000)  # (a 20000-deep func is 2 MB of text, and slow to build)
    if kind == "region":
        ops = '"builtin.module"() ({\n' * depth + "}) : () -> ()\n" * depth
        return _insert_op(rng, text, ops)
    if kind == "func":
        ops = '"func.func"() <{function_type = () -> (), sym_name = "f"}> ({\n' * depth
        ops += '"func.return"() : () -> ()\n}) : () -> ()\n' * depth
        return _insert_op(rng, text, ops)
    if kind == "dense":
        found = list(_DENSE.finditer(text))
        if found:
            match = rng.choice(found)
            literal = "[" * depth + "1" + "]" * depth
            replaced = re.sub(r"dense<[^>]*>", f"dense<{literal}>", match[0])
            return text[: match.start()] + replaced + text[match.end() :]
    values = {
        "array": "[" * depth + "1" + "]" * depth,
        "dict": "{a = " * depth + "1" + "}" * depth,
        "dense": "[" * depth + "true" + "]" * depth,
        "type": "() -> (" * depth + "i1" + ")" * depth,
    }
    return _insert_attribute(rng, text, f"deep = {values[kind]}")


def _insert_op(rng: random.Random, text: str, ops: str) -> str:
    """``ops`` on a line of their own after a random op line of the op part."""
    ends = [m.end() for m in re.finditer(r"-> [^\n]*\n", text[: _op_part(text)])]
    at = rng.choice(ends) if ends else 0
    return text[:at] + ops + text[at:]


def _insert_attribute(rng: random.Random, text: str, entry: str) -> str:
    """``entry`` as the first discardable attribute of a random op."""
    ends = [m.start() for m in re.finditer(r" : \(", text[: _op_part(text)])]
    at = rng.choice(ends) if ends else _position(rng, text)
    return text[:at] + " {" + entry + "}" + text[at:]


def huge_splat(rng: random.Random, text: str) -> str:
    """A constant of 10^12 (or more) elements, spelt as a splat, used or not."""
    dims = rng.choice(["1000000x1000000", "1000x1000x1000x1000", "4611686018427387903",
                       "99999999999999999999x2", "3037000500x3037000500"])
    element, value = rng.choice([("f32", "1.5"), ("i64", "7"), ("i1", "true"), ("f16", "0.0")])
    type_ = f"tensor<{dims}x{element}>"
    op = f'%big = "sparsec.constant"() <{{value = dense<{value}> : {type_}}}> : () -> {type_}\n'
    found = list(_DENSE.finditer(text))
    if found and rng.random() < 0.5:  # an existing constant becomes huge: its users disagree
        match = rng.choice(found)
        return text[: match.start()] + f"dense<{value}> : {type_}" + text[match.end() :]
    body = re.search(r"\^bb0\([^\n]*\n", text)
    at = body.end() if body else 0
    return text[:at] + op + text[at:]


MUTATORS: dict[str, Callable[[random.Random, str], str]] = {
    "flip": flip,
    "delete": delete,
    "duplicate": duplicate,
    "truncate": truncate,
    "swap_tokens": swap_tokens,
    "inflate_digits": inflate_digits,
    "huge_dimension": huge_dimension,
    "deep_nesting": deep_nesting,
    "huge_splat": huge_splat,
}
_WEIGHTS = {"flip": 4, "delete": 3, "duplicate": 3, "truncate": 1, "swap_tokens": 3,
            "inflate_digits": 3, "huge_dimension": 2, "deep_nesting": 2, "huge_splat": 1}


def mutate(rng: random.Random, text: str) -> tuple[str, str]:
    """One to three stacked mutations of ``text``; returns their names and the new text."""
    names = rng.choices(list(_WEIGHTS), weights=list(_WEIGHTS.values()), k=rng.choice([1, 1, 2, 3]))
    for name in names:
        text = MUTATORS[name](rng, text)
    return "+".join(names), text


@dataclass
class Outcome:
    """What one mutant did: ``diagnostic``, ``accepted`` (and round-tripped) or a failure.

    ``seconds`` is CPU time (other processes on a shared machine do not inflate it).
    """

    kind: str
    seconds: float
    detail: str = ""


def run_one(text: str, filename: str = "mutant.mlir") -> Outcome:
    """Parse (and verify), print, parse again; classify what happened."""
    start = time.process_time()
    try:
        module = parse_module(text, filename)
    except ParseError as err:
        seconds = time.process_time() - start
        located = err.line >= 1 and err.col >= 1
        if not located or not str(err).startswith(f"{filename}:{err.line}:{err.col}: "):
            return Outcome("unlocated diagnostic", seconds, str(err)[:300])
        return Outcome("diagnostic", seconds, err.message)
    except Exception as err:  # the point is to catch anything at all
        return Outcome("exception", time.process_time() - start, _short_traceback(err))
    try:
        printed = print_op(module)
        again = print_op(parse_module(printed, "printed.mlir"))
    except Exception as err:
        return Outcome("exception after accepting", time.process_time() - start,
                       _short_traceback(err))
    seconds = time.process_time() - start
    if again != printed:
        return Outcome("round trip differs", seconds)
    return Outcome("accepted", seconds)


def _short_traceback(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)[-3:]
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames))
    return f"{type(err).__name__}: {str(err)[:200]} at {where}"


@dataclass
class Report:
    """Counts per outcome, the slowest mutant, and every failure (with how it was made)."""

    counts: Counter = field(default_factory=Counter)
    times: list[tuple[float, int, str]] = field(default_factory=list)  # seconds, size, mutation
    messages: list[str] = field(default_factory=list)  # of the diagnostics
    slowest: tuple[float, str, int] = (0.0, "", 0)  # seconds, mutation, input size
    worst_rate: tuple[float, str, int] = (0.0, "", 0)  # seconds per KB, mutation, input size
    failures: list[tuple[str, str, Outcome]] = field(default_factory=list)

    def add(self, mutation: str, text: str, outcome: Outcome) -> None:
        self.counts[outcome.kind] += 1
        self.times.append((outcome.seconds, len(text), mutation))
        if outcome.kind == "diagnostic":
            self.messages.append(outcome.detail)
        if outcome.seconds > self.slowest[0]:
            self.slowest = (outcome.seconds, mutation, len(text))
        rate = outcome.seconds / max(len(text) / 1024, 1.0)
        if rate > self.worst_rate[0]:
            self.worst_rate = (rate, mutation, len(text))
        if outcome.kind not in ("diagnostic", "accepted"):
            self.failures.append((mutation, text, outcome))

    def summary(self) -> str:
        seconds, mutation, size = self.slowest
        rate, rate_mutation, rate_size = self.worst_rate
        lines = [f"mutants: {sum(self.counts.values())}"]
        lines += [f"  {kind}: {count}" for kind, count in sorted(self.counts.items())]
        lines.append(f"slowest: {seconds:.3f} s CPU ({mutation}, {size} chars)")
        lines.append(f"worst per KB: {rate:.4f} s/KB ({rate_mutation}, {rate_size} chars)")
        for mutation, _, outcome in self.failures[:20]:
            lines.append(f"  FAIL {outcome.kind} [{mutation}] {outcome.detail}")
        return "\n".join(lines)


def fuzz(mutants: int, seed: int, deadline: float = math.inf) -> Report:
    """``mutants`` mutants, shared out over the seed texts, from ``random.Random(seed)``.

    Stops early once ``deadline`` seconds (wall clock) have passed: the same seed always
    tries the same mutants in the same order, so a slow machine tries a prefix of them.
    """
    rng = random.Random(seed)
    texts = [(name, path.read_text()) for name, path in sorted(SEEDS.items())]
    run_one(texts[0][1])  # builds the parser tables: that second is not any mutant's
    report = Report()
    stop = time.monotonic() + deadline
    for i in range(mutants):
        if time.monotonic() > stop:
            break
        name, base = texts[i % len(texts)]
        mutation, text = mutate(rng, base)
        report.add(f"{name}:{mutation}", text, run_one(text))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=12000)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--save-failures", type=Path, help="write failing mutants to this folder")
    args = parser.parse_args()
    report = fuzz(args.mutants, args.seed)
    print(report.summary())
    if args.save_failures:
        args.save_failures.mkdir(parents=True, exist_ok=True)
        for i, (mutation, text, outcome) in enumerate(report.failures):
            (args.save_failures / f"{i:04d}.mlir").write_text(
                f"// {mutation}: {outcome.kind} {outcome.detail}\n{text}")
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
