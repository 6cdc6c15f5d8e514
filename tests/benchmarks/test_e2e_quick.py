"""The end-to-end benchmark's CI smoke test: `benchmarks/e2e.py --quick` runs and its outputs agree.

No timing is asserted (the machine is shared): only that every variant ran, passed its accuracy
check, and that the CSV, PNG, JSON and markdown say the same thing. The worker processes'
faults are tested in ``test_peers.py``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "e2e.py"
COMPILED = ("onnxruntime", "sparsec-dense", "sparsec-bsr")



def _run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("e2e")
    return _run("--quick", "--repeat", "2", "--out", str(out)), out


def test_quick_run_succeeds_and_prints_both_tables(quick_run):
    result, _ = quick_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert "End-to-end: bert-L2-H128-S32" in result.stdout
    assert "Speedup at 90 % sparsity" in result.stdout
    assert "Traceback" not in result.stderr


def test_csv_has_every_variant_checked_against_pytorch(quick_run):
    _, out = quick_run
    with open(out / "e2e.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    seen = [(r["variant"], r["block"], r["sparsity"], r["scope"]) for r in rows]
    assert seen == [
        ("pytorch-eager", "", "", ""), ("onnxruntime", "", "", ""),
        ("sparsec-dense", "", "", ""), ("pytorch-eager-pruned", "32x1", "0.9", "all"),
        ("sparsec-bsr", "32x1", "0.9", "all"), ("sparsec-bsr", "1x1", "0.9", "all"),
        ("sparsec-bsr", "32x1", "0.9", "attention"), ("pytorch-eager-end", "", "", ""),
    ]
    for row in rows:
        assert row["status"] == "ok", row
        assert (row["batch"], row["seq_len"]) == ("1", "32")
        assert float(row["median_ms"]) > 0 and float(row["speedup_vs_pytorch"]) > 0
        if row["variant"] in COMPILED:
            assert float(row["max_abs_error"]) <= 1e-4, row
    dense = next(r for r in rows if r["variant"] == "sparsec-dense")
    assert math.isclose(float(dense["speedup_vs_sparsec_dense"]), 1.0)
    for row in rows:
        if row["variant"] == "sparsec-bsr":  # the cost model's pick is recorded per weight
            assert "x" in row["cost_model_choice"], row


def test_json_markdown_and_plot_agree_with_the_csv(quick_run):
    _, out = quick_run
    report = json.loads((out / "e2e.json").read_text())
    with open(out / "e2e.csv", newline="") as file:
        assert report["rows"] == list(csv.DictReader(file))
    machine = report["machine"]
    assert machine["cpu"] and machine["cores"] >= 1 and machine["date"]
    assert "float lanes" in machine["isa"] and report["settings"]["target"] == "llvm"
    assert len(machine["load_average_start"]) == len(machine["load_average"]) == 3
    assert isinstance(machine["warnings"], list)
    assert machine["worker_environment"]["TVM_NUM_THREADS"] == "2"
    assert {"torch", "tvm", "onnxruntime", "sparsec"} <= set(machine["versions"])
    assert report["settings"]["shapes"] == ["32x1", "1x1"]
    assert set(report["profiles_ms"]) == {"sparsec-dense", "sparsec-bsr 32x1 90% all"}
    assert "bsr_linear" in report["profiles_ms"]["sparsec-bsr 32x1 90% all"]
    assert "dense_linear" in report["profiles_ms"]["sparsec-dense"]
    markdown = (out / "e2e.md").read_text()
    assert machine["cpu"] in markdown and machine["isa"] in markdown
    assert "| sparsec-bsr | 1x1 | 0.9 | all | 1 | 32 |" in markdown
    assert (out / "e2e.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(("args", "message"), [
    (["--shapes", "3x"], "--shapes"), (["--sparsities", "1.5"], "--sparsities"),
    (["--hidden", "100"], "--hidden"), (["--repeat", "0"], "--repeat"),
])
def test_bad_options_are_one_line_errors(args, message):
    result = _run("--quick", *args, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr.strip().splitlines()[-1]


def test_plan_puts_baselines_first_and_times_pytorch_again_last(e2e):
    configs = e2e.plan(e2e.parse_args(["--shapes", "4x4,8x1", "--sparsities", "0.5,0.9"]))
    variants = [c.variant for c in configs]
    assert variants[:4] == ["pytorch-eager", "onnxruntime", "sparsec-dense",
                            "pytorch-eager-pruned"]
    assert variants[-1] == "pytorch-eager-end"
    bsr = [(c.block, c.sparsity, c.scope) for c in configs if c.variant == "sparsec-bsr"]
    assert bsr == [("4x4", 0.5, "all"), ("4x4", 0.9, "all"), ("8x1", 0.5, "all"),
                   ("8x1", 0.9, "all"), ("32x1", 0.9, "attention")]
