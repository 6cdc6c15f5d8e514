"""The coordinator side of the engine processes (``protocol.py`` is the worker side).

``start`` launches a worker and waits until it has loaded its engine and written its outputs;
``time_interleaved`` then times the ready workers in rounds: round 1 is worker A timing its
calls, then B, ...; only one engine runs at a time while the others sit blocked on a pipe
read, and an idle pause before each block lets the previous engine's thread pool stop
spinning. Every engine gets the same threads, inputs and weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsec.timing import QUIET_PAUSE_SECONDS, Timing

HERE = Path(__file__).parent


class WorkerError(RuntimeError):
    """A worker that failed to load, check or time its engine (the message says why);
    ``worker`` names it when it failed while being timed."""

    worker = ""


@dataclass
class Worker:
    """A running engine process and what it said when it became ready."""

    name: str
    process: subprocess.Popen
    log: Path
    info: dict[str, Any] = field(default_factory=dict)

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request line and read the one-line answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # it died: the empty read below says so with its log
        return self.answer()

    def answer(self) -> dict[str, Any]:
        """The worker's next answer; ``WorkerError`` if it reported one or died."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            raise WorkerError(f"{self.name} exited with status {self.process.returncode}: "
                              f"{last_line(self.log)}")
        reply = json.loads(line)
        if "error" in reply:
            raise WorkerError(reply["error"])
        return reply

    def time(self, calls: int) -> list[float]:
        """One untimed and ``calls`` timed calls in the worker; their seconds."""
        return self.request({"time": calls})["samples"]

    def stop(self) -> None:
        """Close its input (it exits) and reap it."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start(name: str, python: str, script: str, spec: dict[str, Any], workdir: Path,
          env: Mapping[str, str]) -> Worker:
    """Launch ``script`` (a file beside this one) on ``spec``; return it once ready."""
    stem = "".join(c if c.isalnum() else "-" for c in name)
    spec_path, log = workdir / f"{stem}.spec.json", workdir / f"{stem}.log"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    with open(log, "wb") as stderr:
        process = subprocess.Popen([python, str(HERE / script), str(spec_path)], text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=stderr, env={**os.environ, **env}, cwd=workdir)
    worker = Worker(name, process, log)
    try:
        worker.info = worker.answer()["ready"]
    except BaseException:
        worker.stop()
        raise
    return worker


def time_interleaved(workers: Mapping[str, Worker], repeat: int, rounds: int = 3,
                     pause: float = QUIET_PAUSE_SECONDS) -> dict[str, Timing]:
    """``repeat`` timed calls per worker, in ``rounds`` alternating blocks, pooled."""
    rounds = max(1, min(rounds, repeat))
    samples: dict[str, list[float]] = {name: [] for name in workers}
    for index in range(rounds):
        calls = repeat // rounds + (index < repeat % rounds)
        for name, worker in workers.items():
            time.sleep(pause)
            try:
                samples[name] += worker.time(calls)
            except WorkerError as err:
                err.worker = name
                raise
    return {name: Timing.of(times) for name, times in samples.items()}


def last_line(log: Path) -> str:
    """The last non-empty line a worker wrote to its log (the error, usually)."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        return "no log"
    lines = [line for line in lines if line]
    return lines[-1][:300] if lines else "no output"
