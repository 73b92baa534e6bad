"""Which TensorBoard run an evaluation goes to, and what of it is new there.

An evaluation's scalars go to the run of its eval data: ``model_dir/eval`` for the first
eval_input_path evaluated in the model_dir (usually the config's own), ``eval_<name>``
for any other (``--eval_input_path day3.csv`` → ``eval_day3``), so that curves on
different data never share a chart line. Each run's directory names its data in a file
``eval_input_path`` beside the event files (TensorBoard ignores it).

A step evaluated again (an ``--eval_only`` rerun, a re-score with metrics added since)
adds only the values that run does not hold at that step yet: no point is written twice,
and a new metric of an old checkpoint still shows. A recorded value is never replaced;
where the new evaluation differs from it (other eval settings), a warning says so and
eval_result.json keeps the new one.
"""

from __future__ import annotations

import logging
import math
import os
import re

from easymtl import summary
from easymtl.disk import write_text

log = logging.getLogger("easymtl")

MARKER = "eval_input_path"
DEFAULT_RUN = "eval"


def eval_logdir(model_dir: str, eval_input_path: str) -> str:
    """The TensorBoard run directory of evaluations on `eval_input_path` (made, and
    claimed for it, if it is new)."""
    runs = _runs(model_dir)
    for name, data in runs.items():
        if data == eval_input_path:
            return os.path.join(model_dir, name)
    # An `eval` run from before runs named their data is adopted by the first to come.
    if runs.get(DEFAULT_RUN) is None:
        name = DEFAULT_RUN
    else:
        name = _free_name(model_dir, f"{DEFAULT_RUN}_{_slug(eval_input_path)}", runs)
    logdir = os.path.join(model_dir, name)
    os.makedirs(logdir, exist_ok=True)
    write_text(os.path.join(logdir, MARKER), eval_input_path + "\n", "the eval run's data")
    return logdir


def write_eval(logdir: str, values: dict[str, float], step: int) -> None:
    """Writes the scalars `values` (TensorBoard tag -> value) of the evaluation at
    `step` to the run `logdir`, except those it holds at that step already."""
    held = summary.points(logdir)
    new = {tag: v for tag, v in values.items() if step not in held.get(tag, {})}
    changed = [
        f"{tag} {held[tag][step]:.4f} -> {v:.4f}"
        for tag, v in values.items()
        if step in held.get(tag, {}) and not _same(held[tag][step], v)
    ]
    if changed:
        log.warning(
            "eval of step %d differs from what TensorBoard holds for it (%s): %s; "
            "TensorBoard keeps its first values, eval_result.json has the new ones",
            step,
            logdir,
            ", ".join(changed),
        )
    if not new:
        log.info("eval of step %d is already in TensorBoard (%s); not added again", step, logdir)
        return
    if len(new) < len(values):
        log.info(
            "eval of step %d: %d new values added to TensorBoard (%s): %s; the other %d "
            "are there already",
            step,
            len(new),
            logdir,
            ", ".join(sorted(new)),
            len(values) - len(new),
        )
    writer = summary.file_writer(logdir)
    with writer.as_default():
        for tag, value in new.items():
            summary.scalar(tag, value, step)
    summary.flush(writer)


def _runs(model_dir: str) -> dict[str, str | None]:
    """The eval runs of model_dir: directory name -> its eval data (None where the
    directory does not say)."""
    if not os.path.isdir(model_dir):
        return {}
    runs: dict[str, str | None] = {}
    for name in sorted(os.listdir(model_dir)):
        if name != DEFAULT_RUN and not name.startswith(DEFAULT_RUN + "_"):
            continue
        path = os.path.join(model_dir, name)
        if not os.path.isdir(path):
            continue
        marker = os.path.join(path, MARKER)
        if os.path.exists(marker):
            with open(marker, encoding="utf-8") as f:
                runs[name] = f.read().strip()
        else:
            runs[name] = None
    return runs


def _slug(eval_input_path: str) -> str:
    """A run name part from the data's first path: ``data/day3.csv`` → ``day3``."""
    first = eval_input_path.split(",")[0].strip().rstrip("/")
    stem = os.path.basename(first).split(".")[0] or "data"
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "data"


def _free_name(model_dir: str, name: str, runs: dict) -> str:
    candidate, n = name, 2
    while candidate in runs or os.path.exists(os.path.join(model_dir, candidate)):
        candidate, n = f"{name}_{n}", n + 1
    return candidate


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-7)
