"""Every pass's docstring example is run: the pass turns its BEFORE into its AFTER.

The format (for pass authors). A registered pass's class docstring (or, if that has none,
its module docstring) holds one or more examples, each a ``Before`` header then an ``After``
header, each followed by IR indented under it:

    Before:

        ^bb0(%arg0: tensor<4xf32>):
        %0 = "sparsec.neg"(%arg0) : (tensor<4xf32>) -> tensor<4xf32>
        "func.return"(%arg0) : (tensor<4xf32>) -> ()

    After (a comment in parentheses is allowed, and words before: "Attention, before:"):

        ^bb0(%arg0: tensor<4xf32>):
        "func.return"(%arg0) : (tensor<4xf32>) -> ()

- The IR is a function body: its block header (``^bb0(...)``), its ops, its ``func.return``.
  The test wraps it in a ``func.func`` (argument types from the header, result types from
  the return). A snippet starting with ``"func.func"`` or ``"builtin.module"`` is taken whole.
- The pass runs with its default options, or as the pipeline a Before header names in double
  backquotes: ``Before (run as ``sparsity-analysis{block-shapes=2x1}``):``.
- Whitespace is normalised (every run of it is one space, none after an opening bracket),
  so a long op may wrap onto indented continuation lines where it has a space or after a
  bracket; values are named as the printer names them (``%0``, ``%1``...); resource blobs
  are not printed.
"""

from __future__ import annotations

import inspect
import itertools
import re
from dataclasses import dataclass

import pytest

from sparsec.ir.parser import parse_module
from sparsec.ir.printer import print_op
from sparsec.passes import PassManager, parse_pipeline, registered_passes

_HEADER = re.compile(r"^(?P<indent> *)(?:[\w ,]*\b)?(?P<kind>before|after)\b[^\n]*:$", re.I)
_PIPELINE = re.compile(r"``(?:-p )?([^`]+)``")


@dataclass(frozen=True)
class Example:
    pipeline: str
    before: str
    after: str


def examples(cls: type) -> list[Example]:
    """The Before/After pairs of the pass ``cls``'s docstring (class, else module)."""
    blocks = _blocks(cls.__doc__ or "") or _blocks(inspect.getmodule(cls).__doc__ or "")
    pairs = []
    for (kind, header, before), (next_kind, _, after) in itertools.pairwise(blocks):
        if kind == "before" and next_kind == "after":
            named = _PIPELINE.search(header)
            pairs.append(Example(named.group(1) if named else cls.name, before, after))
    return pairs


def _blocks(doc: str) -> list[tuple[str, str, str]]:
    """(kind, header line, indented IR under it) for every Before/After header."""
    lines = inspect.cleandoc(doc).split("\n")
    found = []
    for i, line in enumerate(lines):
        match = _HEADER.match(line)
        if match is None:
            continue
        body = []
        for text in lines[i + 1:]:
            if text.strip() and len(text) - len(text.lstrip()) <= len(match["indent"]):
                break
            body.append(text)
        found.append((match["kind"].lower(), line, "\n".join(body).strip()))
    return found


def as_module_text(snippet: str) -> str:
    """A block snippet wrapped in a function; a function or module as it is."""
    if snippet.startswith(('"func.func"', '"builtin.module"')):
        return snippet
    header = snippet.split("\n", 1)[0]
    args = re.findall(r"%[\w.$-]+\s*:\s*([^,()]+)", header)
    ret = re.search(r'"func\.return"\(.*?\)\s*:\s*\((.*?)\)\s*->\s*\(\)', snippet, re.S)
    results = ret.group(1) if ret else ""
    ftype = f"({', '.join(a.strip() for a in args)}) -> ({results})"
    return (f'"func.func"() <{{function_type = {ftype}, sym_name = "example"}}> ({{\n'
            f"{snippet}\n}}) : () -> ()")


def run_example(example: Example) -> str:
    """The printed result of running the example's pipeline on its Before snippet."""
    module = parse_module(as_module_text(example.before), "<docstring>")
    PassManager(parse_pipeline(example.pipeline)).run(module)
    text = print_op(module, elide_resources=True)
    if example.before.startswith('"builtin.module"'):
        return text
    body = text.strip().split("\n")[1:-1]  # inside the module
    if example.before.startswith('"func.func"'):
        return "\n".join(body)
    return "\n".join(body[1:-1])  # inside the function


def normalized(text: str) -> str:
    """Runs of whitespace as one space, none after an opening bracket."""
    return " ".join(re.sub(r"([{(\[<])\s+", r"\1", text).split())


PASSES = registered_passes()


@pytest.mark.parametrize("cls", PASSES, ids=[cls.name for cls in PASSES])
def test_docstring_examples_hold(cls):
    found = examples(cls)
    assert found, f"pass '{cls.name}' has no Before/After example in its docstring"
    for example in found:
        assert normalized(run_example(example)) == normalized(example.after), (
            f"pass '{cls.name}': the docstring says\n{example.after}\nbut it prints\n"
            f"{run_example(example)}"
        )


def test_the_format_is_read_as_documented():
    class Doc:
        """Summary.

        Before (run as ``dce``):

            ^bb0(%arg0: tensor<4xf32>):
            "func.return"(%arg0) : (tensor<4xf32>) -> ()

        Second, after:

            x
              y
        """

        name = "cse"

    [example] = examples(Doc)
    assert example.pipeline == "dce"
    assert normalized(example.after) == "x y"
    assert "-> (tensor<4xf32>)" in as_module_text(example.before)
