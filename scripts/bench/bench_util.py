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


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def write_json(path: str, result: dict) -> None:
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
