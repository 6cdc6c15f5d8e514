"""Optional tuning: meta_schedule searches schedules for the generically scheduled kernels.

    options = TuneOptions(trials=64)              # database: ~/.cache/sparsec/tuning/<cpu>
    mod, report = tune_module(fused_mod, target, options, progress=print)

What is tuned: the PrimFuncs that Relax legalization and fusion leave to ``schedule.py``'s
generic schedules, when they have at least ``MIN_TUNED_WORK`` elements. Which ones those are
depends on the model: on BERT they are the embedding gathers (``take``), the sum of the
embeddings, reshapes and slices, and the attention mask's ``logical_and``; an elementwise
chain or a softmax outside attention would be one too. The hand-written kernels (dense and BSR
linear, attention with its softmax, float32 layer norm, matmul) are left alone: they are loop
nests without blocks, which meta_schedule cannot transform, and they are already tiled for the
target.

The generic schedule competes: before a kernel is tuned, its generic schedule is measured with
the same builder and runner and committed to the database as one more record. The database's
best record is then the faster of the two, so tuning never makes a kernel slower (as measured).

The database (meta_schedule's JSON files in a folder) is keyed by the kernel's structure. A
kernel with any record in it is not tuned again: a second compile of the same model reuses
the records without a single trial. To search longer, use a fresh ``--tune-db``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tvm
from tvm import s_tir, tirx
from tvm.s_tir import meta_schedule as ms
from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

from sparsec.codegen.schedule import SCHEDULED, _is_scheduled, _work, generic_schedule
from sparsec.codegen.target import CpuTarget
from sparsec.ir.diagnostics import SparsecError
from sparsec.passes.cost_model import cache_dir

MIN_TUNED_WORK = 4096  # elements: below this a kernel takes about a microsecond either way
TRIALS_PER_ITERATION = 32  # candidates built and measured per search round
BUILD_TIMEOUT = 120  # seconds per candidate: a busy machine compiles slowly (default: 30)


class TuneError(SparsecError):
    """Tuning cannot run: bad trial count, unusable database folder, broken TVM install."""


@dataclass(frozen=True)
class TuneOptions:
    """``trials`` measured candidates per kernel; ``database``: folder of the JSON records."""

    trials: int
    database: str | None = None  # None: default_database(cpu)

    def __post_init__(self) -> None:
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise TuneError(f"--tune: TRIALS must be a positive integer, got {self.trials!r}")


@dataclass(frozen=True)
class KernelTiming:
    """One tuned kernel: its generic and best measured times, and whether it was tuned now."""

    name: str
    generic_seconds: float
    best_seconds: float
    tuned_now: bool

    @property
    def speedup(self) -> float:
        """Generic time over best time (1.0 when the generic schedule stayed the best)."""
        return self.generic_seconds / self.best_seconds if self.best_seconds > 0 else 1.0


@dataclass(frozen=True)
class TuneReport:
    """What tuning did: the database used and every tunable kernel's timings."""

    database: str
    trials: int
    kernels: tuple[KernelTiming, ...]

    def summary(self) -> str:
        """One line: the kernels searched now or found in the database, how many run a tuned
        schedule (the others keep the generated one), and their measured total time."""
        if not self.kernels:
            return (f"tuning: no generically scheduled kernel has {MIN_TUNED_WORK} elements or "
                    "more; nothing to tune")
        count = len(self.kernels)
        searched = sum(k.tuned_now for k in self.kernels)
        generic = sum(k.generic_seconds for k in self.kernels)
        best = sum(k.best_seconds for k in self.kernels)
        faster = sum(k.best_seconds < k.generic_seconds for k in self.kernels)
        return (f"tuning: {count} generically scheduled kernels, {searched} searched now "
                f"({self.trials} meta_schedule trials each) and {count - searched} from the "
                f"database in '{self.database}'; {faster} run a tuned schedule, {count - faster} "
                f"keep the generated one; together {best * 1e6:.1f} us instead of "
                f"{generic * 1e6:.1f} us")


def default_database(cpu: str) -> Path:
    """``~/.cache/sparsec/tuning/<cpu>`` (``XDG_CACHE_HOME`` is honoured)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in cpu) or "host"
    return cache_dir() / "tuning" / safe


def check_can_tune(target: CpuTarget) -> None:
    """Tuning measures candidates on this machine: refuse a target it cannot execute."""
    target.check_runs_on_host(f"--tune for {target.mcpu}")


def open_database_folder(options: TuneOptions, target: CpuTarget) -> Path:
    """Create the database folder and check that it is writable (before any slow work)."""
    folder = Path(options.database) if options.database else default_database(target.mcpu)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise TuneError(f"--tune-db: cannot write the tuning database '{folder}': "
                        f"{err.strerror or err}") from None
    return folder


@functools.cache  # the probe starts a Python process: once per process is enough
def check_tuning_support() -> None:
    """Refuse, in one line, an install where meta_schedule would fail or crash."""
    missing = [name for name in ("psutil", "cloudpickle") if importlib.util.find_spec(name) is None]
    if missing:
        raise TuneError(f"--tune needs {' and '.join(missing)} (pip install "
                        f"'apache-tvm[popen-pool]')")
    # Some apache-tvm-ffi releases segfault serializing TVM IR (0.1.15.post2 with TVM 0.27),
    # which the database does for every record: probe it in a child process.
    probe = "import tvm; tvm.ir.save_json(tvm.tirx.IntImm('int32', 0))"
    if subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode != 0:
        import tvm_ffi

        raise TuneError(f"--tune: apache-tvm-ffi {tvm_ffi.__version__} crashes serializing TVM "
                        "IR; install apache-tvm-ffi==0.1.14.post0")


def tunable_kernels(mod: tvm.IRModule) -> list[tuple[tvm.ir.GlobalVar, tirx.PrimFunc]]:
    """The not yet scheduled PrimFuncs with at least ``MIN_TUNED_WORK`` elements, by name."""
    found = [(gv, func) for gv, func in mod.functions.items()
             if isinstance(func, tirx.PrimFunc) and not _is_scheduled(func)
             and _work(func) >= MIN_TUNED_WORK]
    return sorted(found, key=lambda item: item[0].name_hint)


def tune_module(mod: tvm.IRModule, target: CpuTarget, options: TuneOptions,
                progress: Callable[[str], None] | None = None) -> tuple[tvm.IRModule, TuneReport]:
    """Give every tunable kernel of ``mod`` its best schedule from the database, tuning the
    kernels the database does not know yet; the result's kernels are tagged as scheduled."""
    step = progress or (lambda stage: None)
    check_can_tune(target)
    folder = open_database_folder(options, target)
    check_tuning_support()
    tuner = _Tuner(target, options.trials, folder)
    kernels = tunable_kernels(mod)
    timings = []
    for index, (gv, func) in enumerate(kernels, start=1):
        # A standalone build exports only functions with a global symbol (Relax adds its own later).
        workload = tvm.IRModule({"main": func.with_attr("global_symbol", "main")})
        tuned_now = not tuner.known(workload)
        if tuned_now:
            step(f"tuning kernel {index}/{len(kernels)}: {gv.name_hint}")
            tuner.tune(workload, gv.name_hint)
        best = tuner.database.query_schedule(workload, tuner.target, "main")
        if best is not None:  # else no candidate ran: the generic schedule is applied later
            mod[gv] = best.mod["main"].without_attr("global_symbol").with_attr(SCHEDULED, True)
        generic, fastest = tuner.timings(workload)
        timings.append(KernelTiming(gv.name_hint, generic, fastest, tuned_now))
    return mod, TuneReport(str(folder), options.trials, tuple(timings))


class _Tuner:
    """meta_schedule's database, builder and runner for one target (pools made on first use)."""

    def __init__(self, target: CpuTarget, trials: int, folder: Path) -> None:
        self.cpu = target
        self.trials = trials
        self.folder = folder
        # meta_schedule sizes its thread-level search from "num-cores".
        self.target = tvm.target.Target({**target.as_dict(), "num-cores": target.num_threads})
        _register_cpu_tensor_intrinsics(target.mtriple)
        self.database = ms.database.JSONDatabase(work_dir=str(folder),
                                                 module_equality="structural")
        self._pools: tuple[ms.Builder, ms.Runner] | None = None

    def known(self, workload: tvm.IRModule) -> bool:
        """Whether the database has a record of ``workload`` (then it is not tuned again)."""
        return self.database.query_tuning_record(workload, self.target, "main") is not None

    def tune(self, workload: tvm.IRModule, name: str) -> None:
        """Commit the measured generic schedule, then search ``trials`` candidates."""
        builder, runner = self._builder_runner()
        func = workload["main"]
        generic = generic_schedule(func, self.cpu.vector_lanes)
        args_info = ms.arg_info.ArgInfo.from_prim_func(func)
        seconds = self._measure(generic.mod, args_info)
        self.database.commit_tuning_record(ms.database.TuningRecord(
            generic.trace, self.database.commit_workload(workload), seconds, self.target,
            args_info))
        context = ms.TuneContext(mod=workload, target=self.target,
                                 space_generator="post-order-apply",
                                 search_strategy="evolutionary", task_name=name, rand_state=1,
                                 num_threads=self.cpu.num_threads).clone()
        ms.tune_tasks(tasks=[context], task_weights=[1.0], work_dir=str(self.folder),
                      max_trials_global=self.trials,
                      num_trials_per_iter=min(self.trials, TRIALS_PER_ITERATION),
                      builder=builder, runner=runner, database=self.database,
                      cost_model=_cost_model(self.cpu.num_threads))

    def timings(self, workload: tvm.IRModule) -> tuple[float, float]:
        """(generic, best) mean measured seconds of ``workload`` from its records."""
        generic_trace = str(generic_schedule(workload["main"], self.cpu.vector_lanes).trace)
        records = self.database.get_top_k(self.database.commit_workload(workload), 1 << 20)
        times = [(str(r.trace) == generic_trace, _mean(r.run_secs)) for r in records]
        best = min((seconds for _, seconds in times), default=float("inf"))
        generic = next((seconds for is_generic, seconds in times if is_generic), best)
        return generic, best

    def _measure(self, mod: tvm.IRModule, args_info: list) -> list[float] | None:
        builder, runner = self._builder_runner()
        (built,) = builder.build([ms.builder.BuilderInput(mod, self.target)])
        if built.error_msg is not None:
            return None
        (future,) = runner.run([ms.runner.RunnerInput(built.artifact_path, "cpu", args_info)])
        result = future.result()
        return None if result.error_msg is not None else [float(s) for s in result.run_secs]

    def _builder_runner(self) -> tuple[ms.Builder, ms.Runner]:
        if self._pools is None:
            self._pools = (ms.builder.LocalBuilder(max_workers=self.cpu.num_threads,
                                                   timeout_sec=BUILD_TIMEOUT,
                                                   f_build=_build_candidate),
                           ms.runner.LocalRunner())
        return self._pools


# The tensor intrinsics a CPU schedule may use, by the target triple's architecture.
_CPU_INTRINSICS = {"x86_64": "x86", "i686": "x86", "aarch64": "arm_cpu", "arm": "arm_cpu",
                   "riscv": "riscv_cpu"}


def _register_cpu_tensor_intrinsics(mtriple: str) -> None:
    """Register only this CPU's tensor intrinsics. meta_schedule imports the whole
    ``tvm.s_tir.tensor_intrin`` package, which registers every target's (CUDA's alone takes
    16 s, 24 s in all): a lighter package module standing in for it makes that import instant."""
    name = "tvm.s_tir.tensor_intrin"
    if name not in sys.modules:
        package = types.ModuleType(name, "This CPU's tensor intrinsics only (sparsec tune.py).")
        package.__path__ = [str(Path(s_tir.__file__).parent / "tensor_intrin")]
        sys.modules[name] = package
    arch = mtriple.split("-", 1)[0]
    family = next((family for prefix, family in _CPU_INTRINSICS.items()
                   if arch.startswith(prefix)), None)
    if family is not None:
        importlib.import_module(f"{name}.{family}")


def _build_candidate(mod: tvm.IRModule, target: tvm.target.Target, _params: object) -> object:
    """meta_schedule's default build, without its import of every target's tensor intrinsics
    (24 s in each fresh builder process): a schedule has already inlined the ones it uses."""
    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return tvm.tirx.build(mod, target=target)


def _cost_model(threads: int) -> ms.CostModel:
    """XGBoost when it is installed (meta_schedule's default), else random scores."""
    if importlib.util.find_spec("xgboost") is not None:
        return ms.CostModel.create("xgb", num_tuning_cores=threads)
    return ms.CostModel.create("random")


def _mean(run_secs: object) -> float:
    values = [float(s) for s in run_secs] if run_secs else []
    return statistics.fmean(values) if values else float("inf")
