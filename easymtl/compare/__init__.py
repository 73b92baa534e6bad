"""Does sharing help each task? Trains a config's model, the other multi-task
architectures that fit its towers and one single-task model per tower on the same
features, data and budget, over several seeds, and tabulates each tower metric's
difference from the single-task model (the PLE paper's MTL gain).

``python -m easymtl.compare --config X.config --output_dir D`` (see ``__main__.py``);
:func:`compare` is the library entry point, :mod:`easymtl.compare.table` the arithmetic.
"""

from __future__ import annotations

import copy
import gzip
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf import text_format

from easymtl.compare.architectures import (
    SINGLE_TASK,
    Run,
    architectures,
    model_name,
    tower_columns,
)
from easymtl.compare.table import Table, build_table
from easymtl.errors import ConfigError, EasymtlError

log = logging.getLogger("easymtl")


@dataclass
class Report:
    """What a comparison measured.

    Args:
        table: The table (rows: single_task first, then the architectures).
        results: One dict per run and seed: row, run, seed, seconds and its eval results.
        undefined: ``(row, column, seed)`` of each metric that was undefined on the eval
            data (null in eval_result.json, e.g. AUC where the labels hold one class) and
            is left out of the table.
    """

    table: Table
    results: list[dict] = field(default_factory=list)
    undefined: list[tuple[str, str, int]] = field(default_factory=list)


def compare(
    config,
    output_dir: str,
    seeds: int = 3,
    num_steps: int | None = None,
    max_rows: int | None = None,
    only: list[str] | None = None,
    progress: Callable[[str], None] = log.info,
) -> Report:
    """Trains and evaluates every architecture of :func:`architectures` for `config`,
    `seeds` times each (train_config.seed + 0, 1, ...), each run in
    ``output_dir/runs/<run>/seed<k>`` (a finished run there is reused).

    Args:
        config: A validated PipelineConfig with an eval_input_path.
        output_dir: Where the runs (and, with `max_rows`, the bounded data) go.
        seeds: Runs per architecture.
        num_steps: Training steps of every run (default: the config's budget).
        max_rows: Use only the first `max_rows` rows of the train and of the eval input.
        only: Architecture names to run (see :func:`architectures`), or None for all.
        progress: Called with one line per run.

    Raises:
        EasymtlError: no eval input, a run of another config in a run directory, or a
            derived config that does not validate.
    """
    if not config.eval_input_path:
        raise EasymtlError("eval_input_path: compare evaluates every run; set it")
    if seeds < 1:
        raise EasymtlError(f"--seeds: must be at least 1, got {seeds}")
    config = copy.deepcopy(config)
    if num_steps is not None:
        config.train_config.num_steps = num_steps
        config.train_config.ClearField("num_epochs")
    if max_rows is not None:
        _bound_rows(config, os.path.join(output_dir, "data"), max_rows)
    pair = click_conversion_pair(config)
    runs = architectures(config.model_config, pair, only)
    report = Report(table=None)
    total, done = len(runs) * seeds, 0
    for run in runs:
        for seed in range(seeds):
            done += 1
            start = time.perf_counter()
            results = _train_and_evaluate(config, run, seed, output_dir)
            seconds = time.perf_counter() - start
            shown = "  ".join(f"{c} {_shown(results.get(k))}" for c, k in run.columns.items())
            progress(f"[{done}/{total}] {run.name} seed {seed}: {shown}  ({seconds:.0f}s)")
            report.results.append(
                {"row": run.row, "run": run.name, "seed": seed, "seconds": seconds, **results}
            )
    report.table = _table(config.model_config, runs, report.results, report.undefined)
    return report


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _table(
    model_config, runs: list[Run], results: list[dict], undefined: list | None = None
) -> Table:
    """The table of `results`; a metric that is null (undefined on the eval data) is
    left out, and its (row, column, seed) appended to `undefined`."""
    from easymtl.models import task_towers

    values: dict[str, dict[str, list[float]]] = {SINGLE_TASK: {}}
    by_name = {r.name: r for r in runs}
    for result in results:
        run = by_name[result["run"]]
        row = values.setdefault(run.row, {})
        for column, key in run.columns.items():
            if result.get(key) is None:
                if undefined is not None:
                    undefined.append((run.row, column, result["seed"]))
                continue
            row.setdefault(column, []).append(float(result[key]))
    towers = {t.tower_name: tower_columns(t) for t in task_towers(model_config)}
    own = model_name(model_config)
    labels = {own: f"{own} (config)"}
    if "esmm" in values and own != "esmm":
        labels["esmm"] = "esmm †"
    return build_table(values, SINGLE_TASK, towers, labels)


def _train_and_evaluate(config, run: Run, seed: int, output_dir: str) -> dict:
    """Trains `run` with `seed` in its directory (resuming a run started there) and
    returns its eval results."""
    import keras

    from easymtl.config import validate
    from easymtl.runner import Runner

    config = copy.deepcopy(config)
    config.model_config.CopyFrom(run.model_config)
    config.model_dir = os.path.join(output_dir, "runs", run.name, f"seed{seed}")
    config.train_config.seed = config.train_config.seed + seed
    try:
        validate(config)
    except ConfigError as e:
        raise EasymtlError(f"compare: the {run.name} config: {e}") from None
    saved = os.path.join(config.model_dir, "pipeline.config")
    if os.path.exists(saved):
        with open(saved, encoding="utf-8") as f:
            if f.read() != text_format.MessageToString(config):
                raise EasymtlError(
                    f"{config.model_dir}: holds a run of another config or budget; "
                    "give a new --output_dir or remove it"
                )
    # Fresh Keras names per run, so that a resumed run finds its variables by path.
    keras.backend.clear_session()
    runner = Runner(config)
    step = runner.train()
    path = os.path.join(config.model_dir, "eval_result.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            results = json.load(f)
        if results.get("global_step") == step:
            return results
    return runner.evaluate()


def click_conversion_pair(config, scan_rows: int = 200_000) -> tuple[str, str] | None:
    """(click tower, conversion tower): two binary towers where the conversion tower
    learns on the click tower's positives (its task_space_indicator_label is the click
    label), or, in the first `scan_rows` training rows, its label is 1 only where the
    click label is 1 and is 1 less often. None where no two towers are such a pair."""
    from easymtl.models import task_towers
    from easymtl.towers import tower_task_type

    towers = [t for t in task_towers(config.model_config) if tower_task_type(t) == "binary"]
    if model_name(config.model_config) == "esmm":
        return towers[0].tower_name, towers[1].tower_name
    for a in towers:
        for b in towers:
            if a is not b and b.task_space_indicator_label == a.label_name:
                return a.tower_name, b.tower_name
    if len(towers) < 2:
        return None
    counts = _label_counts(config, [t.label_name for t in towers], scan_rows)
    for a in towers:
        for b in towers:
            pos_a, pos_b, both = (
                counts[a.label_name],
                counts[b.label_name],
                counts[(a.label_name, b.label_name)],
            )
            if a is not b and 0 < pos_b == both < pos_a:
                return a.tower_name, b.tower_name
    return None


def _label_counts(config, labels: list[str], scan_rows: int) -> dict:
    """Positives of each label, and of each pair of labels together, in the first
    `scan_rows` training rows."""
    import numpy as np

    from easymtl.data import build_dataset, expand_paths

    files = expand_paths(config.train_input_path, "train_input_path")
    dataset = build_dataset(config.data_config, files, labels, 8192, training=False)
    counts: dict = {}
    rows = 0
    for batch in dataset:
        values = {k: np.asarray(batch[k]) > 0 for k in labels}
        for a in labels:
            counts[a] = counts.get(a, 0) + int(values[a].sum())
            for b in labels:
                both = int((values[a] & values[b]).sum())
                counts[(a, b)] = counts.get((a, b), 0) + both
        rows += len(values[labels[0]])
        if rows >= scan_rows:
            break
    return counts


def _bound_rows(config, data_dir: str, max_rows: int) -> None:
    """Points the config's train and eval input at copies of their first `max_rows`
    rows (CSV lines after any header, or Parquet rows) in `data_dir`."""
    from easymtl.data import expand_paths
    from easymtl.protos import data_pb2

    if max_rows < 1:
        raise EasymtlError(f"--max_rows: must be at least 1, got {max_rows}")
    os.makedirs(data_dir, exist_ok=True)
    parquet = config.data_config.dataset_type == data_pb2.ParquetDataset
    for source in ("train_input_path", "eval_input_path"):
        files = expand_paths(getattr(config, source), source)
        name = source.split("_")[0]
        path = os.path.join(data_dir, f"{name}.parquet" if parquet else f"{name}.csv")
        if parquet:
            _head_parquet(files, path, max_rows)
        else:
            _head_csv(files, path, max_rows, config.data_config.with_header)
        setattr(config, source, path)


def _head_csv(files: list[str], path: str, max_rows: int, with_header: bool) -> None:
    rows = 0
    with open(path, "wb") as out:
        for i, name in enumerate(files):
            with (gzip.open if name.endswith(".gz") else open)(name, "rb") as f:
                for number, line in enumerate(f):
                    if number == 0 and with_header:
                        if i == 0:
                            out.write(line)
                        continue
                    if rows >= max_rows:
                        return
                    out.write(line if line.endswith(b"\n") else line + b"\n")
                    rows += 1


def _head_parquet(files: list[str], path: str, max_rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables, rows = [], 0
    for name in files:
        if rows >= max_rows:
            break
        table = pq.read_table(name).slice(0, max_rows - rows)
        tables.append(table)
        rows += table.num_rows
    pq.write_table(pa.concat_tables(tables), path)


def write_report(report: Report, output_dir: str, title: str = "") -> list[str]:
    """Writes table.md, table.csv and runs.csv into `output_dir`; returns their paths.
    The chart is :func:`easymtl.compare.chart.write_chart`'s."""
    from easymtl.compare.table import NOISE_SE, to_csv, to_markdown

    os.makedirs(output_dir, exist_ok=True)
    markdown = (
        (f"# {title}\n\n" if title else "") + to_markdown(report.table) + _legend(report, NOISE_SE)
    )
    paths = []
    for name, text in (("table.md", markdown), ("table.csv", to_csv(report.table))):
        paths.append(os.path.join(output_dir, name))
        with open(paths[-1], "w", encoding="utf-8") as f:
            f.write(text)
    paths.append(os.path.join(output_dir, "runs.csv"))
    _write_runs(report.results, paths[-1])
    return paths


def _legend(report: Report, noise_se: float) -> str:
    seeds = len({r["seed"] for r in report.results})
    lines = [
        "",
        f"Mean ± sample std over {seeds} seed(s); in parentheses the difference from "
        f"{SINGLE_TASK} (one shared-bottom model per tower, trained on that tower alone). "
        f"▲ / ▼: better / worse beyond noise, i.e. |diff| > {noise_se:g} × "
        "sqrt(std_a²/n_a + std_b²/n_b) and > 0.0001; seesaw: one tower's first metric ▲ and "
        "another's ▼ (n/a with fewer than 2 seeds).",
    ]
    if report.undefined:
        left_out = ", ".join(f"{c} of {r} seed {s}" for r, c, s in report.undefined)
        lines.append(
            f"Left out as undefined on the eval data (null in eval_result.json, e.g. AUC "
            f"where the eval labels hold one class): {left_out}."
        )
    if any(r["row"] == "esmm" for r in report.results):
        lines.append(
            "† ESMM's conversion column is its CTCVR metric (probs_ctcvr on all rows) where "
            "the config's conversion tower is scored on all rows, else its CVR metric."
        )
    return "\n".join(lines) + "\n"


def _write_runs(results: list[dict], path: str) -> None:
    import csv

    keys = list(dict.fromkeys(k for r in results for k in r))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(results)
