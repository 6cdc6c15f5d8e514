"""Seeded fuzzing of the IR text form (issue 10): mutants of examples/micro_bert.mlir and of an
imported model's dump (tests/ir/fixtures) go through parse -> verify -> print -> parse.

Every mutant must end in a located ``ParseError`` or be accepted and print back exactly, and
none may take more than ``bound(size)`` of CPU time. The run is capped at DEADLINE seconds of
wall time (the mutants come in a fixed order, so a slow machine tries a prefix of them).
The long run for the issue is ``python tests/ir/ir_fuzz.py --mutants 12000``; here
``SPARSEC_FUZZ_MUTANTS=12000`` does the same, without the deadline.
"""

from __future__ import annotations

import math
import os

from ir_fuzz import MUTATORS, fuzz

SEED = 2026
MUTANTS = int(os.environ.get("SPARSEC_FUZZ_MUTANTS", "2000"))
DEADLINE = 45.0 if "SPARSEC_FUZZ_MUTANTS" not in os.environ else math.inf
MIN_MUTANTS = min(MUTANTS, 400)  # what even a very slow machine gets through by the deadline


def bound(size: int) -> float:
    """CPU seconds one mutant may take: 0.1 s per KB of text (at least 0.5 s). Parsing runs at
    about 0.3 ms per KB of IR (8 ms per KB at worst, for texts of nothing but tiny tokens)."""
    return max(0.5, 0.1 * size / 1024)


def test_every_mutant_is_a_located_diagnostic_or_round_trips() -> None:
    report = fuzz(MUTANTS, SEED, DEADLINE)
    print(report.summary())  # pytest -s shows the counts
    tried = sum(report.counts.values())
    assert tried >= MIN_MUTANTS, report.summary()
    assert not report.failures, report.summary()
    assert report.counts["diagnostic"] and report.counts["accepted"]
    slow = [(seconds, size, how) for seconds, size, how in report.times if seconds > bound(size)]
    assert not slow, slow
    # The mutants reach every kind of edit and every limit (else the test proves little).
    edits = {name for _, _, how in report.times for name in how.partition(":")[2].split("+")}
    assert edits == set(MUTATORS)
    for limit in ("nests deeper than the limit", "digits, more than the limit",
                  "is more than the limit of", "elements, more than the limit"):
        assert any(limit in message for message in report.messages), limit
