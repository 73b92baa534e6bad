"""Helpers shared by the parts of scripts/bench/throughput.py (standard library only, so
that the DeepCTR part can use them from its own virtualenv)."""

from __future__ import annotations

import json
import os
import resource
import time


def rss_mb() -> float:
    """The resident set size of this process now, in MiB (Linux /proc)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """The peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StepClock:
    """Wall and CPU time at the end of each step, and the rows each step took."""

    def __init__(self):
        self.start_wall = time.perf_counter()
        self.marks: list[tuple[float, float, int]] = []

    def mark(self, rows: int) -> None:
        self.marks.append((time.perf_counter(), time.process_time(), int(rows)))

    def first_step_s(self) -> float | None:
        """Seconds from the clock's creation to the end of the first step."""
        return self.marks[0][0] - self.start_wall if self.marks else None

    def rate(self, warmup: int) -> dict:
        """Examples/sec and CPU milliseconds per 1,000 examples over the steps after the
        first `warmup` (or after the first step when there are too few)."""
        skip = min(warmup, len(self.marks) - 2)
        if skip < 0:
            return {"examples_per_sec": None, "cpu_ms_per_1k": None, "steps": len(self.marks)}
        (w0, c0, _), (w1, c1, _) = self.marks[skip], self.marks[-1]
        rows = sum(r for _, _, r in self.marks[skip + 1 :])
        return {
            "examples_per_sec": rows / (w1 - w0),
            "cpu_ms_per_1k": 1e6 * (c1 - c0) / rows,
            "steps": len(self.marks) - skip - 1,
        }


def seconds_since_start() -> float:
    """Wall seconds since this process started (Linux /proc: its start in clock ticks
    after boot against the uptime now), so that the interpreter's and the imports' time
    counts too."""
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    with open("/proc/uptime") as f:
        return float(f.read().split()[0]) - started


class Marks:
    """Phases of a process from its start: each mark ends a phase, with its wall and CPU
    seconds (the process's CPU time, every thread)."""

    def __init__(self):
        self.phases: list[dict] = []
        self._wall = time.perf_counter() - seconds_since_start()
        self._cpu = 0.0

    def mark(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.phases.append({"phase": name, "wall_s": wall - self._wall, "cpu_s": cpu - self._cpu})
        self._wall, self._cpu = wall, cpu

    def since_start(self) -> dict:
        """Wall and CPU seconds from the process's start to now."""
        return {"wall_s": seconds_since_start(), "cpu_s": time.process_time()}


def auc(labels, scores) -> float:
    """ROC AUC by the rank statistic (ties counted as half)."""
    import numpy as np

    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(scores, kind="mergesort")
    scores = np.asarray(scores)[order]
    labels = labels[order]
    ranks = np.empty(len(scores))
    _, first, counts = np.unique(scores, return_index=True, return_counts=True)
    for start, n in zip(first, counts):
        ranks[start : start + n] = start + (n + 1) / 2
    pos = labels.sum()
    neg = len(labels) - pos
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def write_json(path: str, result: dict) -> None:
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
