"""The end-to-end pipeline: model -> sparsec IR -> passes -> TVM -> artifact.

    options = CompileOptions(target="llvm -mcpu=skylake-avx512", block_shape="32x1")
    compilation = compile_model("bert-dir", options=options, progress=print)
    manifest = write_artifact(compilation, "bert.sparsec")

Everything the user can get wrong (target, pass options, output folder) is checked before the
model is imported, since importing and compiling take long. ``progress`` is told each stage:
``target`` (resolving it loads TVM), the frontend's ``loading``/``tracing``/``translating``
(``parsing`` for IR text), ``pass NAME`` for each pass, the code generator's own stages, then
``writing``.

The source may also be a file of IR text (``sparsec import -o``, ``sparsec opt -o``, a
``--dump-ir --keep-resources`` dump), recognised by content. It is compiled as it stands: the
passes already run on it are not run again (unless ``rerun_passes``). They are known from the
module attribute ``sparsec.pipeline``, which ``sparsec opt`` and the dumps write (the pipeline
run so far), and from what the sparsity passes leave behind (``sparsec.sparsity`` and
``sparsec.decision`` attributes, ``sparsec.bsr_linear`` ops), so hand-edited IR works too.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import sparsec
from sparsec.artifact import (
    LIBRARY,
    WEIGHTS_JOINER,
    BsrLayout,
    Manifest,
    TensorInfo,
    WeightDecision,
    write_checksums,
    write_manifest,
    write_params,
)
from sparsec.atomic import atomic_path, write_text
from sparsec.ir.attributes import ArrayAttr, DenseResourceAttr, DictAttr, StringAttr
from sparsec.ir.core import Operation
from sparsec.ir.diagnostics import SparsecError as UserError
from sparsec.ir.dialects.sparsec import BsrLinear, Linear
from sparsec.ir.printer import print_op
from sparsec.passes import (
    Pass,
    PassError,
    PassManager,
    PipelineError,
    format_pipeline,
    parse_pipeline,
)
from sparsec.passes.block_shape_selection import DECISION_ATTR, BlockShapeSelection
from sparsec.passes.combine_parallel_linears import PARTS_ATTR, CombineParallelLinears
from sparsec.passes.cost_model import load_cost_model
from sparsec.passes.fusion import Fusion
from sparsec.passes.sparsify import Sparsify
from sparsec.passes.sparsity_analysis import DEFAULT_BLOCK_SHAPES, SPARSITY_ATTR, SparsityAnalysis

if TYPE_CHECKING:
    from sparsec.codegen.build import Built
    from sparsec.codegen.target import CpuTarget
    from sparsec.codegen.tune import TuneOptions

Progress = Callable[[str], None]

PASSES_BEFORE = "canonicalize,cse"  # then the sparsity passes, unless disabled
# What becomes one kernel, shown in the IR: linears reading one input, epilogues, layouts.
PASSES_AFTER = "combine-parallel-linears,fusion,canonicalize,dce"
PIPELINE_ATTR = "sparsec.pipeline"  # on a module: the passes run on it so far, as a pipeline
# Options of the passes that decide sparsity, with their CLI spelling (no effect once they ran).
SELECTION_OPTIONS = (("--block-shape", "block_shape"), ("--layer", "layers"),
                     ("--dense-above", "dense_above"), ("--min-speedup", "min_speedup"),
                     ("--cost-model", "cost_model"), ("--block-shapes", "block_shapes"))


@dataclass(frozen=True)
class CompileOptions:
    """How to compile: target, sparsity choices, trace shapes, IR dumps."""

    target: str = "llvm"  # "llvm", or "llvm -mcpu=... -mattr=..."
    mcpu: str | None = None  # the CLI's separate -mcpu argument
    mattr: str | None = None  # the CLI's separate -mattr argument
    threads: int | None = None  # threads the schedules are generated for; default: all cores
    sparsity: bool = True  # False: every linear stays dense ("TVM without BSR")
    block_shape: str = ""  # one choice for every weight: "RxC" or "dense"; "" lets the cost decide
    layers: tuple[str, ...] = ()  # "GLOB=RxC" / "GLOB=dense", first match wins
    dense_above: float = 0.5
    min_speedup: float = 1.1
    cost_model: str = "auto"
    block_shapes: tuple[str, ...] = DEFAULT_BLOCK_SHAPES  # candidates
    # A size, or a (min, max) range of which the compiled model takes any size. None: batch 1,
    # seq min(128, the model's positions); or what a TorchScript archive recorded.
    batch: int | tuple[int, int] | None = None
    seq_len: int | tuple[int, int] | None = None
    rerun_passes: bool = False  # IR input: run the passes it records as run again
    allow_pickle: bool = False
    allow_missing_weights: bool = False  # accept a checkpoint lacking some weights
    dump_ir: str | None = None  # folder for NN-pass.mlir dumps
    elide_resources: bool = True  # in the dumps
    tune_trials: int = 0  # > 0: meta_schedule trials per generic kernel (codegen/tune.py)
    tune_db: str | None = None  # tuning database folder; default ~/.cache/sparsec/tuning/<cpu>

    def target_text(self) -> str:
        """The target as the user spelled it, separate arguments included."""
        extra = [f"-mcpu={self.mcpu}" if self.mcpu else "", f"-mattr={self.mattr}"
                 if self.mattr else ""]
        return " ".join([self.target, *filter(None, extra)])


@dataclass
class Compilation:
    """A compiled model in memory: the build result plus what the passes decided."""

    built: Built
    target: CpuTarget
    options: CompileOptions
    pipeline: str
    weights: tuple[WeightDecision, ...]
    model: str
    bsr: tuple[BsrLayout, ...] = ()  # data/indices/indptr as resource keys (see bsr_layouts)


def resolve_target(options: CompileOptions) -> CpuTarget:
    """The CPU target of ``options``; ``TargetError`` for an unknown kind, CPU or option."""
    from sparsec.codegen.target import TargetError, parse_target

    spec = options.target
    if options.mattr is not None:
        if "-mattr" in spec:
            raise TargetError(f"target: -mattr given twice ('{spec}' and -mattr={options.mattr})")
        spec = f"{spec} -mattr={options.mattr}"
    if options.threads is not None and options.threads < 1:
        raise UserError(f"--threads must be at least 1, got {options.threads}")
    return parse_target(spec, options.mcpu, options.threads)


def build_passes(options: CompileOptions, cpu: str = "") -> list[Pass]:
    """The pass pipeline; bad sparsity options are a ``UserError`` before anything runs."""
    before, after = parse_pipeline(PASSES_BEFORE), parse_pipeline(PASSES_AFTER)
    if not options.sparsity:
        return [*before, *after]
    try:
        sparsity = [
            SparsityAnalysis(block_shapes=tuple(options.block_shapes)),
            BlockShapeSelection(block_shapes=tuple(options.block_shapes),
                                force=options.block_shape, layers=tuple(options.layers),
                                dense_above=options.dense_above, min_speedup=options.min_speedup,
                                cost_model=options.cost_model, cpu=cpu),
            Sparsify(),
        ]
        load_cost_model(options.cost_model, cpu)  # a bad file fails now, not after the import
    except PassError as err:
        raise UserError(f"bad sparsity option: {err}") from None
    return [*before, *sparsity, *after]


def check_output(path: str | os.PathLike) -> None:
    """Fail before the slow work when the artifact could not be written at ``path``."""
    target = Path(path).absolute()
    if not target.parent.is_dir():
        raise UserError(f"cannot write '{path}': folder '{target.parent}' does not exist")
    if target.exists() and not target.is_dir():
        raise UserError(f"cannot write '{path}': it exists and is not a directory")


def default_output(model: str | os.PathLike) -> Path:
    """``<model name>.sparsec`` in the current folder (``bert-dir/`` -> ``bert-dir.sparsec``)."""
    name = Path(os.fspath(model).rstrip("/\\")).name
    return Path(f"{Path(name).stem or 'model'}.sparsec")


def compile_model(source: Any, example_inputs: Any = None, options: CompileOptions | None = None,
                  progress: Progress | None = None) -> Compilation:
    """Import ``source`` (path of a model or of IR text, nn.Module or ExportedProgram), run the
    passes (those not already run on IR text) and build it."""
    options = options or CompileOptions()
    step = progress or (lambda stage: None)
    step("target")
    target = resolve_target(options)
    passes = build_passes(options, target.mcpu)
    dump_dir = _dump_folder(options.dump_ir)
    tune = _tune_options(options, target)

    from sparsec.codegen.build import build_module

    module, passes = source_module(source, example_inputs, options, passes, step)
    if dump_dir is not None:
        _dump(dump_dir / "00-import.mlir", module, options.elide_resources)
    for index, pass_ in enumerate(passes, start=1):
        step(f"pass {pass_.name}")
        PassManager([pass_]).run(module)
        record_pipeline(module, [pass_])
        if dump_dir is not None:
            _dump(dump_dir / f"{index:02d}-{pass_.name}.mlir", module, options.elide_resources)
    weights = weight_decisions(module)
    built = build_module(module, target, progress=step, tune=tune)
    return Compilation(built, target, options, recorded_pipeline(module), weights,
                       _model_name(source), bsr_layouts(module))


def source_module(source: Any, example_inputs: Any, options: CompileOptions,
                   passes: list[Pass], step: Progress) -> tuple[Operation, list[Pass]]:
    """The module to compile and the passes still to run on it."""
    path = ir_file(source)
    if path is None:
        from sparsec.frontend import import_model

        module = import_model(source, example_inputs, batch=options.batch,
                              seq_len=options.seq_len, allow_pickle=options.allow_pickle,
                              allow_missing_weights=options.allow_missing_weights,
                              progress=step)
        return module, passes
    if options.batch is not None or options.seq_len is not None:
        raise UserError(f"--batch and --seq-len do not apply to IR text: its shapes are fixed "
                        f"('{path}')")
    step("parsing")
    module = load_ir(path)
    if options.rerun_passes:
        return module, passes
    done = passes_run(module, path)
    _check_options_apply(options, done, path)
    if Fusion.name in done:  # after fusion, attention could no longer read the slices in place
        done.add(CombineParallelLinears.name)
    return module, [pass_ for pass_ in passes if pass_.name not in done]


def ir_file(source: Any) -> Path | None:
    """``source`` as a path when it names a file of IR text (told by its first line of code:
    a module or function in generic syntax), else None."""
    if not isinstance(source, str | os.PathLike) or not Path(source).is_file():
        return None
    try:
        with open(source, "rb") as file:
            head = file.read(4096)
    except OSError:
        return None  # the frontend reports it
    lines = (line.strip() for line in head.splitlines())
    first = next((line for line in lines if line and not line.startswith(b"//")), b"")
    return Path(source) if first.startswith((b'"builtin.module"', b'"func.func"')) else None


def load_ir(path: Path) -> Operation:
    """The verified module of an IR file, which must hold its weights and ``@forward``."""
    from sparsec.ir.interpreter import InterpretError, find_function
    from sparsec.ir.parser import parse_module

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"cannot read '{path}': not UTF-8 text") from None
    except OSError as err:
        raise UserError(f"cannot read '{path}': {err.strerror}") from None
    try:
        module = parse_module(text, str(path))
        find_function(module, "forward")
    except InterpretError:
        raise UserError(f"'{path}' has no function @forward to compile") from None
    elided = sorted({attr.key for attr in _resource_attrs(module) if attr.resource.data is None})
    if elided:
        more = f" and {len(elided) - 1} more" if len(elided) > 1 else ""
        raise UserError(f"'{path}' has no weights: resource '{elided[0]}'{more} was elided when "
                        "it was printed (write it without --elide-resources)")
    return module


def _resource_attrs(module: Operation) -> Iterator[DenseResourceAttr]:
    for op in module.walk():
        for attr in (*op.properties.values(), *op.attributes.values()):
            if isinstance(attr, DenseResourceAttr):
                yield attr


def recorded_pipeline(module: Operation) -> str:
    """The pipeline ``module`` records as run on it (``PIPELINE_ATTR``), or ""."""
    attr = module.attributes.get(PIPELINE_ATTR)
    return attr.value if isinstance(attr, StringAttr) else ""


def record_pipeline(module: Operation, passes: list[Pass]) -> None:
    """Add ``passes`` to the pipeline ``module`` records as run on it."""
    if passes:
        text = ",".join(filter(None, [recorded_pipeline(module), format_pipeline(passes)]))
        module.attributes[PIPELINE_ATTR] = StringAttr(text)


def passes_run(module: Operation, path: Path) -> set[str]:
    """The names of the passes known to have run on ``module``: those it records, and the
    sparsity passes whose results it holds."""
    try:
        done = {pass_.name for pass_ in parse_pipeline(recorded_pipeline(module))}
    except (PipelineError, PassError) as err:
        raise UserError(f"'{path}': its {PIPELINE_ATTR} attribute is not a pass pipeline "
                        f"({err})") from None
    for op in module.walk():
        if SPARSITY_ATTR in op.attributes:
            done.add(SparsityAnalysis.name)
        if DECISION_ATTR in op.attributes:
            done.add(BlockShapeSelection.name)
        if op.name == "sparsec.bsr_linear":
            done.add(Sparsify.name)
    return done


def _check_options_apply(options: CompileOptions, done: set[str], path: Path) -> None:
    """Refuse a sparsity option that would be ignored because its pass already ran."""
    ran = next((name for name in (Sparsify.name, BlockShapeSelection.name) if name in done), None)
    if ran is None:
        return
    defaults = CompileOptions()
    given = [flag for flag, field in SELECTION_OPTIONS
             if getattr(options, field) != getattr(defaults, field)]
    if not options.sparsity:
        given.insert(0, "--no-sparsity")
    if given:
        raise UserError(f"{given[0]} has no effect on '{path}': {ran} already ran on it "
                        "(--rerun-passes runs its passes again)")


def _tune_options(options: CompileOptions, target: CpuTarget) -> TuneOptions | None:
    """The tuning options, checked (trial count, writable database) before the import."""
    if not options.tune_trials and options.tune_db is None:
        return None
    from sparsec.codegen.tune import TuneOptions, check_can_tune, open_database_folder

    tune = TuneOptions(options.tune_trials, options.tune_db)
    check_can_tune(target)
    open_database_folder(tune, target)
    return tune


def _dump_folder(path: str | None) -> Path | None:
    if path is None:
        return None
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--dump-ir: cannot create folder '{path}': {err.strerror}") from None
    return folder


def _dump(path: Path, module: Operation, elide_resources: bool) -> None:
    text = print_op(module, elide_resources=elide_resources)
    write_text(path, text if text.endswith("\n") else text + "\n")


def _model_name(source: Any) -> str:
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    return type(source).__name__


def weight_decisions(module: Operation) -> tuple[WeightDecision, ...]:
    """The decision of every linear the sparsity passes annotated (dense or BSR), in op order."""
    decisions = []
    for op in module.walk():
        for sparsity, decision, shape in annotated_weights(op):
            speedup = float(decision["predicted_speedup"].value)
            decisions.append(WeightDecision(
                weight=str(sparsity["weight"].value),
                shape=shape,
                density=float(sparsity["density"].value),
                block_shape=str(decision["block_shape"].value),
                predicted_speedup=speedup if math.isfinite(speedup) else None,
                reason=str(decision["reason"].value),
            ))
    return tuple(decisions)


def annotated_weights(op: Operation) -> list[tuple[DictAttr, DictAttr, tuple[int, int]]]:
    """(sparsity, decision, [out, in]) of each weight of a linear the sparsity passes
    annotated: one, or each of the weights a combined linear holds (none if unannotated)."""
    sparsity, decision = op.attributes.get(SPARSITY_ATTR), op.attributes.get(DECISION_ATTR)
    if isinstance(sparsity, DictAttr) and isinstance(decision, DictAttr):
        return [(sparsity, decision, _dense_shape(op))]
    parts = op.attributes.get(PARTS_ATTR)
    if not (isinstance(sparsity, ArrayAttr) and isinstance(decision, ArrayAttr) and parts):
        return []
    k = _dense_shape(op)[1]
    return [(s, d, (int(rows), k)) for s, d, rows in zip(sparsity, decision, parts, strict=True)]


def _dense_shape(op: Operation) -> tuple[int, int]:
    """[out, in] of a linear's weight, or the dense shape a ``bsr_linear`` stands for."""
    if op.name == BsrLinear.name:
        rows, cols = BsrLinear(op).dense_shape
    else:
        rows, cols = Linear(op).weight.type.shape
    return int(rows), int(cols)


def bsr_layouts(module: Operation) -> tuple[BsrLayout, ...]:
    """The layout of every ``bsr_linear`` whose arrays are weights (resources), in op order,
    with the resource keys of its arrays; ``make_manifest`` turns them into param names."""
    layouts = []
    for op in module.walk():
        if op.name != BsrLinear.name:
            continue
        bsr = BsrLinear(op)
        keys = [_resource_key(value) for value in (bsr.data, bsr.indices, bsr.indptr)]
        if None in keys:
            continue  # inline constants are compiled into the library, not loaded
        rows, cols = (int(v) for v in bsr.block_shape)
        weights = [str(sparsity["weight"].value) for sparsity, _, _ in annotated_weights(op)]
        name = WEIGHTS_JOINER.join(weights) or str(keys[0])
        layouts.append(BsrLayout(name, (rows, cols), _dense_shape(op), *keys))
    return tuple(layouts)


def _resource_key(value: Any) -> str | None:
    """The resource key of a weight constant, None for anything else."""
    definer = getattr(value, "definer", None)  # block arguments have none
    if definer is None or definer.name != "sparsec.constant":
        return None
    attr = definer.properties.get("value")
    return attr.key if isinstance(attr, DenseResourceAttr) else None


# BsrPlan.layout at the end of a param name: rows, rows-4slices, tokens, tokens-sweep128
_LAYOUT = re.compile(r":[a-z]+(?:-(?P<slices>\d+)slices|-sweep(?P<sweep_rows>\d+))?$")


def _bsr_params(layouts: tuple[BsrLayout, ...], names: list[str]) -> tuple[BsrLayout, ...]:
    """The layouts with param names for resource keys (the lowering names a weight's param
    ``KEY`` or ``KEY:LAYOUT``) and, from the layout's name, the K slices of their kernel or
    its rows per group of a column sweep. A layout not found among the params is not
    recorded."""
    by_key: dict[str, list[str]] = {}
    for name in names:
        by_key.setdefault(name.split(":", 1)[0], []).append(name)
    found = []
    for layout in layouts:
        params = [by_key.get(key, []) for key in (layout.data, layout.indices, layout.indptr)]
        if all(len(p) == 1 for p in params):
            data, indices, indptr = (p[0] for p in params)
            match = _LAYOUT.search(indptr)
            slices = int(match["slices"] or 1) if match else 1
            sweep_rows = int(match["sweep_rows"] or 0) if match else 0
            found.append(dataclasses.replace(layout, data=data, indices=indices, indptr=indptr,
                                             slices=slices, sweep_rows=sweep_rows))
    return tuple(found)


def make_manifest(compilation: Compilation) -> Manifest:
    """The manifest of a compilation (versions of this process, the time now)."""
    import tvm

    built = compilation.built
    params = [TensorInfo(name, tuple(int(d) for d in array.shape), np.asarray(array).dtype.name,
                         finite=bool(np.isfinite(array).all()) if np.asarray(array).dtype.kind
                         in "fc" else True)
              for name, array in zip(built.param_names, built.params, strict=True)]
    return Manifest(
        inputs=tuple(TensorInfo.of(spec) for spec in built.inputs),
        outputs=tuple(TensorInfo.of(spec) for spec in built.outputs),
        params=tuple(params),
        target=compilation.target.as_dict(),
        target_spec=compilation.options.target_text(),
        threads=compilation.target.num_threads,
        pipeline=compilation.pipeline,
        weights=compilation.weights,
        kernels={name: int(count) for name, count in sorted(built.kernels.items())},
        sizes=dict(built.ranges),
        versions={"sparsec": sparsec.__version__, "tvm": tvm.__version__,
                  "numpy": np.__version__, "python": sys.version.split()[0]},
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        model=compilation.model,
        cpu_features=compilation.target.isa_features(),
        bsr=_bsr_params(compilation.bsr, built.param_names),
    )


def write_artifact(compilation: Compilation, path: str | os.PathLike,
                   progress: Progress | None = None) -> Manifest:
    """Write the artifact directory ``path`` atomically: whole, or not at all. ``SHA256SUMS``
    comes last, over the finished files."""
    (progress or (lambda stage: None))("writing")
    manifest = make_manifest(compilation)
    with atomic_path(path, directory=True) as temp:
        compilation.built.executable.export_library(str(temp / LIBRARY))
        write_params(temp, list(manifest.params), [np.asarray(p) for p in compilation.built.params])
        write_manifest(temp, manifest)
        write_checksums(temp)
    return manifest
