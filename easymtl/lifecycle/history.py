"""model_dir/eval_history.jsonl: every evaluation's results, one JSON line each, in
global step order, one line per step and eval data. eval_result.json holds only the
newest; this keeps the rest (each day's evaluation of a daily retrained model, every
checkpoint evaluated during training)."""

from __future__ import annotations

import json
import logging
import os
import time

from easymtl.callbacks import Callback
from easymtl.disk import json_text, write_text

log = logging.getLogger("easymtl")

HISTORY = "eval_history.jsonl"


def read(model_dir: str) -> list[dict]:
    """The evaluations recorded in model_dir, oldest first."""
    path = os.path.join(model_dir, HISTORY)
    if not os.path.exists(path):
        return []
    entries = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("%s line %d: not JSON, ignored", path, number)
    return entries


def record(model_dir: str, entry: dict) -> None:
    """Adds `entry` in step order (after every entry of its step or an earlier one); an
    entry of the same step and eval data is replaced, never doubled. The file is
    rewritten whole and renamed into place, so a kill leaves the old history or the new
    one. Callers hold the model_dir's :class:`~easymtl.run_guard.EvaluationLock`."""
    entries = read(model_dir)
    key = (entry["global_step"], entry.get("eval_input_path"))
    same = [
        i for i, e in enumerate(entries) if (e.get("global_step"), e.get("eval_input_path")) == key
    ]
    if same:
        entries[same[0]] = entry
        for i in reversed(same[1:]):
            del entries[i]
    else:
        at = len(entries)
        while at and entries[at - 1].get("global_step", 0) > entry["global_step"]:
            at -= 1
        entries.insert(at, entry)
    text = "".join(json_text(e, indent=None) + "\n" for e in entries)
    write_text(os.path.join(model_dir, HISTORY), text, "the evaluation history")


def evaluated_steps(model_dir: str, eval_input_path: str) -> set[int]:
    """The global steps already evaluated on `eval_input_path`."""
    return {
        e["global_step"] for e in read(model_dir) if e.get("eval_input_path") == eval_input_path
    }


def newest_step(model_dir: str, eval_input_path: str) -> int | None:
    """The newest global step evaluated on `eval_input_path`, if any."""
    return max(evaluated_steps(model_dir, eval_input_path), default=None)


class EvalHistory(Callback):
    """Appends each evaluation to model_dir/eval_history.jsonl, with the evaluated
    checkpoint, the eval and train data and the time.

    Args:
        config: The pipeline config.
    """

    def __init__(self, config):
        self.config = config

    def after_evaluate(self, step: int, results: dict) -> None:
        from easymtl.lifecycle import runs

        run = getattr(self.runner, "run", None) or runs.run_at(self.config.model_dir, step)
        entry = {
            "global_step": step,
            "checkpoint": f"model.ckpt-{step}",
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "eval_input_path": self.config.eval_input_path,
            "train_input_path": run.train_input_path if run else None,
            "run": run.number if run else None,
        }
        for name, value in results.items():
            if isinstance(value, float) and value != value:  # NaN: undefined, as null
                value = None
            entry.setdefault(name, value)
        record(self.config.model_dir, entry)
