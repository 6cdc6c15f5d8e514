"""The pass manager: order, verification after each pass, IR dumps, timing."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest

from sparsec.ir.dialects.sparsec import Add, Neg
from sparsec.ir.types import f32, i64, tensor
from sparsec.passes import Pass, PassError, PassFailure, PassManager, TimingReport, parse_pipeline


@dataclass(frozen=True)
class RecordName(Pass):
    """Appends its tag to a shared list (shows the order passes ran in)."""

    name = "record"
    tag: str = ""
    log: list | None = None

    def apply(self, module) -> None:
        self.log.append(self.tag)


@dataclass(frozen=True)
class BreakTypes(Pass):
    """Changes a result type behind the verifier's back (a buggy pass)."""

    name = "break-types"

    def apply(self, module) -> None:
        op = next(op for op in module.walk() if op.name == "sparsec.neg")
        op.results[0].type = tensor((4,), i64)


@dataclass(frozen=True)
class Refuse(Pass):
    """Fails cleanly, the way a pass reports input it cannot handle."""

    name = "refuse"

    def apply(self, module) -> None:
        raise PassError("cannot handle this module")


def small_module(make_module):
    def build(emit, x):
        return emit(Add, [emit(Neg, [x]), x])

    return make_module([tensor((4,), f32)], build)


def test_passes_run_in_order(make_module):
    log: list[str] = []
    passes = [RecordName("a", log), RecordName("b", log), RecordName("a", log)]
    PassManager(passes).run(small_module(make_module))
    assert log == ["a", "b", "a"]


def test_verifier_names_the_pass_that_broke_the_ir(make_module):
    with pytest.raises(PassFailure) as info:
        PassManager([*parse_pipeline("cse"), BreakTypes()]).run(small_module(make_module))
    message = str(info.value)
    assert message.startswith("pass 'break-types' produced invalid IR:")
    assert "'sparsec.neg' op" in message


def test_no_verify_lets_broken_ir_through(make_module):
    PassManager([BreakTypes()], verify_each=False).run(small_module(make_module))


def test_pass_error_names_the_pass(make_module):
    with pytest.raises(PassFailure, match="pass 'refuse' failed: cannot handle this module"):
        PassManager([Refuse()]).run(small_module(make_module))


def test_print_ir_after_selected_pass(make_module):
    stream = io.StringIO()
    pm = PassManager(parse_pipeline("cse,dce"), print_ir_after={"dce"}, ir_stream=stream)
    pm.run(small_module(make_module))
    text = stream.getvalue()
    assert text.startswith("// -----// IR Dump After DCE (dce) //----- //\n")
    assert "IR Dump After CSE" not in text
    assert "sparsec.neg" in text


def test_print_ir_after_all(make_module):
    stream = io.StringIO()
    pm = PassManager(parse_pipeline("canonicalize,cse"), print_ir_after_all=True, ir_stream=stream)
    pm.run(small_module(make_module))
    headers = [line for line in stream.getvalue().splitlines() if line.startswith("// -----//")]
    assert headers == [
        "// -----// IR Dump After Canonicalize (canonicalize) //----- //",
        "// -----// IR Dump After CSE (cse) //----- //",
    ]


def test_timing_report_has_a_row_per_pass_and_a_total(make_module):
    timing = TimingReport()
    PassManager(parse_pipeline("canonicalize,cse,dce,cse"), timing=timing).run(
        small_module(make_module)
    )
    assert list(timing.seconds) == ["Canonicalize", "Verifier", "CSE", "DCE"]
    report = timing.format()
    assert "Execution time report" in report
    rows = [line.split()[-1] for line in report.splitlines() if "%)" in line]
    assert rows == ["Canonicalize", "Verifier", "CSE", "DCE", "Total"]
    assert "(100.0%)  Total" in report


def test_timing_report_accumulates_repeated_steps():
    timing = TimingReport()
    for _ in range(3):
        with timing.measure("step"):
            pass
    assert list(timing.seconds) == ["step"]
    assert timing.seconds["step"] >= 0.0
