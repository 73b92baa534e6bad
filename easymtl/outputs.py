"""The closing lines of a run: where each of its outputs is.

:func:`log_outputs` names what the run wrote in model_dir, each on a line of its own:
the last checkpoint (and the best one kept), the evaluation results, the TensorBoard
logdir and its runs, the exports written by this run, the report and the log file.
Only what exists is named; exports and evaluation files only if this run wrote them.
"""

from __future__ import annotations

import logging
import os
import re
import time

log = logging.getLogger("easymtl")


def outputs(model_dir: str, started: float, log_file: str | None = None) -> list[tuple[str, str]]:
    """(what, where) of a run's outputs in `model_dir`, for a run that began at Unix time
    `started`; `log_file` is its log's path, if it keeps one."""
    import tensorflow as tf

    gfile = tf.io.gfile
    found: list[tuple[str, str]] = []
    latest = tf.train.latest_checkpoint(model_dir) if gfile.isdir(model_dir) else None
    if latest:
        found.append(("checkpoint", latest))
    best = os.path.join(model_dir, "best")
    best_checkpoint = tf.train.latest_checkpoint(best) if gfile.isdir(best) else None
    if best_checkpoint:
        found.append(("best checkpoint", best_checkpoint))
    result = os.path.join(model_dir, "eval_result.json")
    if _written_since(result, started):
        history = os.path.join(model_dir, "eval_history.jsonl")
        also = f" (every evaluation: {history})" if gfile.exists(history) else ""
        found.append(("evaluation", result + also))
    runs = sorted(
        name
        for name in (gfile.listdir(model_dir) if gfile.isdir(model_dir) else [])
        if _has_events(os.path.join(model_dir, name.rstrip("/")))
    )
    if runs:
        runs = [r.rstrip("/") for r in runs]
        found.append(("TensorBoard", f"tensorboard --logdir {model_dir} (runs: {', '.join(runs)})"))
    for base in (os.path.join(model_dir, "export"), os.path.join(model_dir, "export", "best")):
        for version in _versions(base):
            if int(version) >= int(started) - 1:
                found.append(("export", os.path.join(base, version)))
    report = os.path.join(model_dir, "report.html")
    if _written_since(report, started):
        found.append(("report", report))
    if log_file and gfile.exists(log_file):
        found.append(("log", log_file))
    return found


def log_outputs(model_dir: str, started: float, log_file: str | None = None) -> None:
    """Logs the run's outputs (:func:`outputs`), one per line, aligned."""
    found = outputs(model_dir, started, log_file)
    if not found:
        return
    log.info("done in %s; outputs:", _duration(time.time() - started))
    width = max(len(what) for what, _ in found)
    for what, where in found:
        log.info("  %s  %s", what.ljust(width), where)


def _written_since(path: str, started: float) -> bool:
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        return False
    return tf.io.gfile.stat(path).mtime_nsec / 1e9 >= started - 1


def _has_events(path: str) -> bool:
    import tensorflow as tf

    if not tf.io.gfile.isdir(path):
        return False
    return any("tfevents" in name for name in tf.io.gfile.listdir(path))


def _versions(base: str) -> list[str]:
    import tensorflow as tf

    if not tf.io.gfile.isdir(base):
        return []
    names = [n.rstrip("/") for n in tf.io.gfile.listdir(base)]
    return sorted((n for n in names if re.fullmatch(r"\d+", n)), key=int)


def _duration(seconds: float) -> str:
    from easymtl.progress import duration

    return duration(seconds)
