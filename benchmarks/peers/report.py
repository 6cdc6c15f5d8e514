"""Reports of the end-to-end benchmark shared by the sweep and ``--peers``: the machine
section (CPU, ISA, load, versions), markdown tables, and the peers' own table and plot.

Everything here works on the CSV records (dicts of strings), so the CSV, JSON, markdown
and plot cannot disagree.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import platform
from pathlib import Path

import numpy as np

from sparsec.atomic import atomic_path
from sparsec.report import speedup_text, table

VERSIONED = ("torch", "tvm", "onnxruntime", "openvino", "sparsec", "transformers")


def machine(threads_env: dict[str, str]) -> dict[str, object]:
    """CPU model, core count, load, date, and the versions of this process's packages."""
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8") as file:
        for line in file:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in VERSIONED:
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = "not installed"
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average": list(os.getloadavg()),
            "platform": platform.platform(), "versions": versions, "environment": threads_env,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}


def header_lines(title: str, info: dict, settings: dict) -> list[str]:
    """The top of a markdown report: machine, ISA, load (and its warning), versions."""
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    load = ", ".join(f"{x:.2f}" for x in info["load_average"])
    start = ", ".join(f"{x:.2f}" for x in info["load_average_start"])
    lines = [f"# {title}", "",
             f"- machine: {info['cpu']}, {info['cores']} cores; sparsec target "
             f"`{settings['target']}`: {info['isa']}",
             f"- load average (1, 5, 15 min): {start} at the start, {load} at the end"]
    lines += [f"- {warning}" for warning in info["warnings"]]
    lines.append(f"- timing: every engine in a process of its own with {settings['threads']} "
                 f"threads, checked against PyTorch first; the engines of a variant timed in "
                 f"{settings['rounds']} interleaved rounds ({settings['repeat']} calls each in "
                 "all), one engine at a time after an idle pause; median of the calls")
    return [*lines, f"- versions: {versions}", f"- date: {info['date']}",
            f"- thread environment: {json.dumps(info['environment'])}",
            f"- settings: {json.dumps(settings)}"]


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def speedup_cell(value: str) -> str:
    return speedup_text(float(value)) if value else ""


def cell(record: dict[str, str]) -> str:
    """One engine on one variant: ``3.21x (12.3 ms)``, or why there is no time."""
    if record["status"] != "ok" or not record["median_ms"]:
        return record["status"].split(":", 1)[0]
    return f"{speedup_cell(record['speedup_vs_pytorch'])} ({float(record['median_ms']):.1f} ms)"


def pivot(records: list[dict[str, str]]) -> tuple[list[str], list[str], list[list[str]]]:
    """Variants (rows) x engines (columns) of speedup over PyTorch eager and time."""
    variants = list(dict.fromkeys(r["config"] for r in records))
    engines = list(dict.fromkeys(r["variant"] for r in records))
    by_key = {(r["config"], r["variant"]): r for r in records}
    rows = [[variant, *(cell(by_key[variant, e]) if (variant, e) in by_key else "" for e in
                        engines)] for variant in variants]
    return variants, engines, rows


def peers_table(model: str, records: list[dict[str, str]]):
    """The rich table of the pivot, for the terminal."""
    _, engines, rows = pivot(records)
    columns = [("variant", "left"), *((engine, "right") for engine in engines)]
    return table(f"Peers: {model}, speedup over PyTorch eager (median time)", columns, rows)


def peers_markdown(model: str, info: dict, settings: dict, records: list[dict[str, str]],
                   engines: dict[str, str], fields: list[str]) -> str:
    """The peers report: machine, the pivot, what each engine is, every row."""
    _, names, rows = pivot(records)
    notes = sorted({f"{r['variant']}: {r['status']}" for r in records
                    if r["status"].startswith("skipped")})
    facts = [[r["config"], r["variant"], r["compile_s"], r["cost_model_choice"], r["details"]]
             for r in records if r["status"] == "ok"]
    lines = [*header_lines(f"Peers benchmark: {model}", info, settings), "",
             "## Speedup over PyTorch eager (median time per call)", "",
             md_table(["variant", *names], rows), "", *(f"- {note}" for note in notes),
             "", "## Engines", "",
             md_table(["engine", "version", "what it is"],
                      [[name, _version(name, info), text] for name, text in engines.items()]),
             "", "## Compile times and engine facts", "",
             md_table(["variant", "engine", "compile s", "sparsec's block shapes", "details"],
                      facts),
             "", "## Every row", "",
             md_table([k.replace("_", " ") for k in fields[1:]],
                      [[r[k] for k in fields[1:]] for r in records])]
    return "\n".join(lines) + "\n"


def _version(engine: str, info: dict) -> str:
    versions = info["versions"]
    key = {"pytorch-eager": "torch", "torch-compile": "torch"}.get(engine, engine)
    return versions.get(key, "")


def write_peers_plot(path: Path, model: str, isa: str, records: list[dict[str, str]]) -> None:
    """Grouped bars: speedup over PyTorch eager per variant, one bar per engine."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    variants = list(dict.fromkeys(r["config"] for r in records))
    engines = list(dict.fromkeys(r["variant"] for r in records))
    speedup = {(r["config"], r["variant"]): float(r["speedup_vs_pytorch"])
               for r in records if r["speedup_vs_pytorch"]}
    figure = Figure(figsize=(max(8, 1.3 * len(variants) + 2), 5), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    width = 0.8 / max(1, len(engines))
    for index, engine in enumerate(engines):
        values = [speedup.get((v, engine), 0.0) for v in variants]
        x = np.arange(len(variants)) + (index - (len(engines) - 1) / 2) * width
        ax.bar(x, values, width, label=engine)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(range(len(variants)), variants, rotation=20, fontsize=8)
    ax.set_ylabel("speedup over PyTorch eager")
    ax.set_title(f"{model} on {isa}: every engine side by side (missing bar: skipped or "
                 "failed)", fontsize=10)
    ax.legend(fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    with atomic_path(path) as temp:
        temp.write_bytes(buffer.getvalue())
