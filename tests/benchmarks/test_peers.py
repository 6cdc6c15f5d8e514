"""The benchmark's engine processes: each engine in a worker of its own, checked against
PyTorch first, timed in interleaved rounds with only one engine running at a time.

The fault tests use ``fake_worker.py`` (PyTorch eager with a fault switched on) on a 1-layer
model; the last test runs ``e2e.py --peers`` itself on one tiny variant, where every peer
that is not installed must be a one-line "skipped" row (CI installs none).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "benchmarks" / "e2e.py"
FAKE = Path(__file__).with_name("fake_worker.py")


@pytest.fixture
def fake(e2e, tmp_path, monkeypatch):
    """A Bench on a 1-layer model whose rows "fake-a", "fake-b", ... run ``fake_worker.py``
    with the faults ``faults[name]`` gives; returns (bench, faults, log file)."""
    args = e2e.parse_args(["--layers", "1", "--hidden", "64", "--seq-len", "8", "--repeat",
                           "6", "--shapes", "32x1", "--sparsities", "0.9"])
    bench = e2e.Bench(args, tmp_path)
    monkeypatch.setitem(e2e.engines.ENGINES, "fake",
                        e2e.engines.Engine(str(FAKE), "torch", "a fake engine"))
    faults: dict[str, dict] = {}
    log = tmp_path / "timing.log"
    for name in ("fake-a", "fake-b", "fake-c"):
        monkeypatch.setitem(e2e.ENGINE_OF, name, "fake")
    real_spec = e2e.worker_spec

    def spec_with_faults(bench, config, spec, folder):
        fault = {"log": str(log), **faults.get(config.variant, {})}
        return {**real_spec(bench, config, spec, folder), "name": config.variant, "fake": fault}

    monkeypatch.setattr(e2e, "worker_spec", spec_with_faults)
    return bench, faults, log


def _group(e2e, bench, *names):
    return e2e.run_group(bench, [e2e.Config(name, seq_len=8) for name in names], 0,
                         lambda line: None)


def _blocks(log: Path) -> list[tuple[str, float, float]]:
    """(engine, start, end) of every timing request, in time order."""
    starts, blocks = {}, []
    for line in log.read_text().splitlines():
        kind, name, when = line.split()
        if kind == "start":
            starts[name] = float(when)
        else:
            blocks.append((name, starts.pop(name), float(when)))
    return sorted(blocks, key=lambda block: block[1])


def test_engines_are_timed_in_alternating_rounds_one_at_a_time(e2e, fake):
    bench, _, log = fake
    rows = _group(e2e, bench, "fake-a", "fake-b", "fake-c")
    assert [row.status for row in rows] == ["ok"] * 3
    blocks = _blocks(log)
    assert [name for name, _, _ in blocks] == ["fake-a", "fake-b", "fake-c"] * 3
    for (_, _, end), (_, start, _) in itertools.pairwise(blocks):
        assert start >= end + 0.1  # never overlapping, an idle pause in between
    for row in rows:
        assert row.timing is not None and row.timing.median > 0
        assert row.max_abs_error == 0.0 and row.info["fake"] is True


def test_rounds_sets_how_often_the_engines_alternate(e2e, fake):
    bench, _, log = fake
    bench.args.rounds = 2
    rows = _group(e2e, bench, "fake-a", "fake-b")
    assert [name for name, _, _ in _blocks(log)] == ["fake-a", "fake-b"] * 2
    assert all(row.timing is not None for row in rows)


@pytest.mark.parametrize("isa", ["native", "avx2"])
def test_baseline_isa_caps_pytorch_only(e2e, tmp_path, isa):
    args = e2e.parse_args(["--peers", "--layers", "1", "--hidden", "64", "--baseline-isa", isa])
    bench = e2e.Bench(args, tmp_path)
    env = {variant: e2e.worker_env(bench, e2e.Row(e2e.Config(variant), 0))
           for variant in ("pytorch-eager", "torch-compile", "sparsec", "deepsparse")}
    capped = isa == "avx2"
    for variant in ("pytorch-eager", "torch-compile"):
        assert (env[variant].get("ATEN_CPU_CAPABILITY") == "avx2") == capped
        assert (env[variant].get("ONEDNN_MAX_CPU_ISA") == "AVX2") == capped
    for variant in ("sparsec", "deepsparse"):
        assert "ATEN_CPU_CAPABILITY" not in env[variant]
        assert env[variant]["TVM_NUM_THREADS"] == env["pytorch-eager"]["TVM_NUM_THREADS"]


def test_a_wrong_result_fails_its_row_and_is_not_timed(e2e, fake):
    bench, faults, log = fake
    faults["fake-b"] = {"offset": 0.01}
    good, wrong = _group(e2e, bench, "fake-a", "fake-b")
    assert wrong.status == "FAILED: max abs error 0.01 > 0.001"
    assert math.isclose(wrong.max_abs_error, 0.01, rel_tol=1e-3)
    assert wrong.timing is None and good.timing is not None
    assert {name for name, _, _ in _blocks(log)} == {"fake-a"}


def test_a_crash_while_loading_fails_its_row_with_the_whole_message(e2e, fake):
    bench, faults, _ = fake
    faults["fake-a"] = {"crash": True}
    (row,) = _group(e2e, bench, "fake-a")
    assert row.status == "FAILED: RuntimeError: engine exploded"
    assert row.timing is None


def test_a_worker_dying_while_timed_fails_only_its_row(e2e, fake):
    bench, faults, _ = fake
    faults["fake-a"] = {"die_in_round": 2}
    dead, alive = _group(e2e, bench, "fake-a", "fake-b")
    assert dead.status.startswith("FAILED: fake-a exited with status 3"), dead.status
    assert dead.timing is None
    assert alive.status == "ok" and alive.timing is not None


def test_a_failed_onnx_export_fails_the_onnx_rows_only(e2e, fake, monkeypatch):
    bench, _, _ = fake
    monkeypatch.setitem(e2e.engines.ENGINES, "fake-onnx",
                        e2e.engines.Engine(str(FAKE), "onnx", "a fake ONNX engine"))
    monkeypatch.setitem(e2e.ENGINE_OF, "fake-c", "fake-onnx")

    def broken_export(model, inputs, path):
        raise RuntimeError("Unsupported: aten::frobnicate\nin opset 14")

    monkeypatch.setattr("peers.onnx_export.export_onnx", broken_export)
    torch_row, onnx_row = _group(e2e, bench, "fake-a", "fake-c")
    assert onnx_row.status == ("FAILED: ONNX export: RuntimeError: Unsupported: "
                               "aten::frobnicate in opset 14")
    assert onnx_row.timing is None
    assert torch_row.status == "ok" and torch_row.timing is not None


def test_an_engine_that_is_not_installed_is_skipped_with_a_one_line_note(e2e, fake,
                                                                          monkeypatch):
    bench, _, _ = fake
    monkeypatch.setitem(e2e.engines.ENGINES, "fake", e2e.engines.Engine(
        "deepsparse_worker.py", "onnx", "DeepSparse"))
    monkeypatch.setenv("SPARSEC_DEEPSPARSE_PYTHON", "/nonexistent/python")
    e2e.engines._missing.cache_clear()
    try:
        (row,) = _group(e2e, bench, "fake-a")
    finally:
        e2e.engines._missing.cache_clear()
    assert row.status == ("skipped: DeepSparse is not set up (bash "
                          "benchmarks/setup_deepsparse.sh)")
    assert row.timing is None


def test_peer_speedups_are_over_the_pytorch_row_of_the_same_variant(e2e):
    timing = e2e.Timing
    rows = [e2e.Row(e2e.Config("pytorch-eager"), 0, timing(0.10, 0.0)),
            e2e.Row(e2e.Config("openvino"), 0, timing(0.05, 0.0)),
            e2e.Row(e2e.Config("sparsec"), 0, timing(0.02, 0.0)),
            e2e.Row(e2e.Config("pytorch-eager", batch=8), 1, timing(0.80, 0.0)),
            e2e.Row(e2e.Config("sparsec", batch=8), 1, timing(0.20, 0.0))]
    e2e.add_speedups(rows, per_group=True)
    assert math.isclose(rows[2].speedups["pytorch-eager"], 5.0)
    assert math.isclose(rows[2].speedups["best-peer"], 2.5)  # openvino's 50 ms
    assert math.isclose(rows[4].speedups["pytorch-eager"], 4.0)
    assert math.isclose(rows[4].speedups["best-peer"], 4.0)  # PyTorch is the only peer there
    assert "best-peer" not in rows[1].speedups


def test_peers_plan_has_every_engine_on_every_variant_of_issue_13(e2e):
    configs = e2e.plan(e2e.parse_args(["--peers"]))
    variants = list(dict.fromkeys(config.name for config in configs))
    assert variants == ["dense-s128", "32x1-90-s128", "16x1-90-s128", "4x4-90-s128",
                        "1x32-90-s128", "1x1-80-s128", "1x1-90-s128", "32x1-90-b8-s128",
                        "32x1-90-s384"]
    assert [c.variant for c in configs[:6]] == ["pytorch-eager", "torch-compile",
                                                "onnxruntime", "openvino", "deepsparse",
                                                "sparsec"]
    assert len(configs) == 6 * 9
    only = e2e.plan(e2e.parse_args(["--peers", "--engines", "sparsec", "--variants",
                                    "1x1-80-s128"]))
    assert [(c.variant, c.block, c.sparsity) for c in only] == [
        ("pytorch-eager", "1x1", 0.8), ("sparsec", "1x1", 0.8)]


@pytest.mark.parametrize(("args", "message"), [
    (["--engines", "tensorrt"], "--engines: unknown engine 'tensorrt'"),
    (["--variants", "2x2-90-s32"], "--variants: unknown variant '2x2-90-s32'"),
    (["--target", "cuda"], "--target"),
    (["--rounds", "0"], "--rounds"),
    (["--baseline-isa", "avx512"], "--baseline-isa"),
])
def test_bad_peer_options_are_one_line_errors(args, message):
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--peers", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr.strip().splitlines()[-1]


def test_quick_peers_run_checks_times_or_skips_every_engine(tmp_path):
    """All engines but torch.compile (slow to compile) on one tiny variant."""
    engines = "pytorch-eager,onnxruntime,openvino,deepsparse,sparsec"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--peers", "--engines", engines, "--variants",
         "32x1-90-s32", "--repeat", "2", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    with open(tmp_path / "peers.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [r["variant"] for r in rows] == engines.split(",")
    for row in rows:
        if row["status"].startswith("skipped"):  # a peer that is not installed
            assert row["variant"] in ("openvino", "deepsparse") and not row["median_ms"]
            assert "\n" not in row["status"] and row["status"] in result.stderr
            continue
        assert row["status"] == "ok", row
        assert float(row["max_abs_error"]) <= 1e-4 and float(row["median_ms"]) > 0
        assert (row["config"], row["batch"], row["seq_len"]) == ("32x1-90-s32", "1", "32")
    sparsec = rows[-1]
    assert float(sparsec["speedup_vs_best_peer"]) > 0 and sparsec["cost_model_choice"]
    report = json.loads((tmp_path / "peers.json").read_text())
    assert report["rows"] == rows
    machine = report["machine"]
    assert machine["isa"] and len(machine["load_average_start"]) == 3
    markdown = (tmp_path / "peers.md").read_text()
    assert machine["isa"] in markdown and "| 32x1-90-s32 | 1.00x (" in markdown
    assert (tmp_path / "peers.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
