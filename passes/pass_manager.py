"""The pass manager: runs passes in order, verifies after each, dumps IR, times.

    pm = PassManager(parse_pipeline("canonicalize,cse"), print_ir_after={"cse"})
    pm.run(module)

IR dumps use MLIR's header, ``// -----// IR Dump After CSE (cse) //----- //``,
and elide resource blobs (weights) so they stay readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from sparsec.ir.core import Operation
from sparsec.ir.diagnostics import PassError, PassFailure, VerificationError
from sparsec.ir.printer import print_op
from sparsec.ir.verifier import verify

from .pass_base import Pass


class TimingReport:
    """Wall time per named step (a pass, the verifier, the parser), like ``--mlir-timing``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def measure(self, label: str) -> Iterator[None]:
        """Add the wall time of the ``with`` body to ``label`` (repeated steps accumulate)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[label] = self.seconds.get(label, 0.0) + elapsed

    def format(self) -> str:
        """The report table: one row per step in first-run order, then the total."""
        total = sum(self.seconds.values())
        rule = "===" + "-" * 73 + "==="
        lines = [
            rule,
            " " * 25 + "... Execution time report ...",
            rule,
            f"  Total Execution Time: {total:.4f} seconds",
            "",
            "  ----Wall Time----  ----Name----",
        ]
        rows = [*self.seconds.items(), ("Total", total)]
        for label, seconds in rows:
            share = 100.0 * seconds / total if total > 0 else 0.0
            lines.append(f"  {seconds:>8.4f} ({share:5.1f}%)  {label}")
        return "\n".join(lines)


def dump_header(pass_: Pass) -> str:
    return f"// -----// IR Dump After {pass_.display_name} ({pass_.name}) //----- //"


@dataclass
class PassManager:
    """Runs ``passes`` on a module; see the module docstring."""

    passes: Sequence[Pass]
    verify_each: bool = True
    print_ir_after_all: bool = False
    print_ir_after: Collection[str] = ()
    timing: TimingReport | None = None
    ir_stream: TextIO | None = None  # where IR dumps go; stderr when None
    _timer: TimingReport = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._timer = self.timing if self.timing is not None else TimingReport()

    def run(self, module: Operation) -> None:
        """Apply every pass in order; raise ``PassFailure`` naming the pass that went wrong."""
        for pass_ in self.passes:
            with self._timer.measure(pass_.display_name):
                try:
                    pass_.apply(module)
                except PassError as err:
                    raise PassFailure(f"pass '{pass_.name}' failed: {err}", err) from None
            if self.verify_each:
                self._verify_after(pass_, module)
            if self.print_ir_after_all or pass_.name in self.print_ir_after:
                self._dump(pass_, module)

    def _verify_after(self, pass_: Pass, module: Operation) -> None:
        with self._timer.measure("Verifier"):
            try:
                verify(module)
            except VerificationError as err:
                raise PassFailure(f"pass '{pass_.name}' produced invalid IR: {err}", err) from None

    def _dump(self, pass_: Pass, module: Operation) -> None:
        stream = self.ir_stream if self.ir_stream is not None else sys.stderr
        stream.write(f"{dump_header(pass_)}\n{print_op(module, elide_resources=True)}\n\n")
        stream.flush()
