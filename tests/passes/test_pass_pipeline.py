"""Pipeline parsing: pass names, options and their types, one-line errors, the registry."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sparsec.passes import (
    Pass,
    PipelineError,
    format_pipeline,
    list_passes_text,
    option,
    parse_pipeline,
    register_pass,
    registry,
)
from sparsec.passes.canonicalize import Canonicalize
from sparsec.passes.cse import CSE
from sparsec.passes.dce import DCE


@dataclass(frozen=True)
class BlockOptions(Pass):
    """A pass with one option of every supported type (never applied)."""

    name = "block-options"
    block_shapes: tuple[str, ...] = option(("32x1",), "block shapes to try")
    sizes: tuple[int, ...] = option((), "sizes")
    threshold: float = option(0.5, "density threshold")
    enabled: bool = option(False, "a flag")
    label: str = option("x", "a name")
    count: int = option(1, "a count")


@pytest.fixture
def with_block_options(monkeypatch):
    monkeypatch.setitem(registry._PASSES, BlockOptions.name, BlockOptions)


def test_passes_in_order():
    assert parse_pipeline("canonicalize,cse,dce") == [Canonicalize(), CSE(), DCE()]


def test_whitespace_and_module_anchor():
    assert parse_pipeline(" builtin.module( cse , dce ) ") == [CSE(), DCE()]


def test_empty_pipeline():
    assert parse_pipeline("") == []


def test_int_options():
    (pass_,) = parse_pipeline("canonicalize{max-iterations=3 fold-limit=16}")
    assert pass_ == Canonicalize(max_iterations=3, fold_limit=16)


def test_every_option_type(with_block_options):
    (pass_,) = parse_pipeline(
        "block-options{block-shapes=32x1,16x1 sizes=1,2,3 threshold=0.25 enabled label=y count=7}"
    )
    assert pass_ == BlockOptions(("32x1", "16x1"), (1, 2, 3), 0.25, True, "y", 7)


def test_bool_values(with_block_options):
    assert parse_pipeline("block-options{enabled=true}")[0].enabled is True
    assert parse_pipeline("block-options{enabled=0}")[0].enabled is False


def test_empty_list_value(with_block_options):
    assert parse_pipeline("block-options{block-shapes=}")[0].block_shapes == ()


def test_format_round_trips(with_block_options):
    text = "cse,block-options{block-shapes=32x1,16x1 threshold=0.25},canonicalize{max-iterations=2}"
    passes = parse_pipeline(text)
    assert format_pipeline(passes) == text
    assert parse_pipeline(format_pipeline(passes)) == passes


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ("nosuchpass", "unknown pass 'nosuchpass' (known passes: "),
        ("canonicalize{bogus=1}", "no option 'bogus' (valid options: max-iterations, fold-limit)"),
        ("dce{x=1}", "pass 'dce' has no option 'x' (valid options: none)"),
        ("canonicalize{max-iterations=lots}", "bad value 'lots' for option 'max-iterations'"),
        ("canonicalize{max-iterations}", "option 'max-iterations' of pass 'canonicalize' needs"),
        ("canonicalize{max-iterations=1 max-iterations=2}", "is given twice"),
        ("canonicalize{max-iterations=1", "unbalanced '{'"),
        ("cse}", "unbalanced '}' at column 4"),
        ("cse,,dce", "empty pass name"),
        ("cse,", "empty pass name"),
        ("canonicalize{max-iterations=0}", "pass 'canonicalize': max-iterations must be at least"),
        ("c$e", "malformed pass 'c$e'"),
    ],
)
def test_errors_are_one_line(pipeline, message):
    with pytest.raises(PipelineError) as info:
        parse_pipeline(pipeline)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_float_and_bool(with_block_options):
    with pytest.raises(PipelineError, match="expected a number"):
        parse_pipeline("block-options{threshold=half}")
    with pytest.raises(PipelineError, match="expected true or false"):
        parse_pipeline("block-options{enabled=maybe}")
    with pytest.raises(PipelineError, match="expected an integer"):
        parse_pipeline("block-options{sizes=1,x}")


def test_unknown_pass_lists_the_known_ones():
    with pytest.raises(PipelineError) as info:
        parse_pipeline("canonicalize,nosuchpass")
    assert all(f"{name}," in str(info.value) for name in ("canonicalize", "cse"))
    assert "dce" in str(info.value)


def test_list_passes_shows_summaries_and_options():
    text = list_passes_text()
    assert "canonicalize" in text and "cse" in text and "dce" in text
    assert "max-iterations: int = 10" in text
    assert Canonicalize.summary() in text


def test_register_pass_rejects_a_plain_class():
    class NotADataclass(Pass):
        name = "not-a-dataclass"

    with pytest.raises(ValueError, match="frozen dataclass"):
        register_pass(NotADataclass)


def test_register_pass_rejects_a_duplicate_name():
    @dataclass(frozen=True)
    class Impostor(Pass):
        name = "cse"

    with pytest.raises(ValueError, match="registered twice"):
        register_pass(Impostor)
