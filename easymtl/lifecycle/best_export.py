"""Exports after evaluations (export_config.exporter_type latest and best), and the best
checkpoint kept beyond keep_checkpoint_max.

Crash safety: a SavedModel is written to a temporary directory and renamed into place
(:func:`easymtl.export.export_saved_model`); the best checkpoint's files are linked in
under temporary names and renamed; model_dir/best/best.json, written last and atomically,
is what says which checkpoint and exports are the best. A kill at any point leaves the
previous best.json in force; what it does not name (a half-done step's files) is removed
when the exporter starts again.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import time

from easymtl.callbacks import Callback
from easymtl.disk import read_json, remove_stale_temporaries, write_json, write_text
from easymtl.export.info import export_info, exported
from easymtl.lifecycle.metric import BestMetric
from easymtl.run_guard import EvaluationLock

log = logging.getLogger("easymtl")

BEST_DIR = "best"
BEST_JSON = "best.json"


def export_base(model_dir: str) -> str:
    return os.path.join(model_dir, "export")


def _export(runner, base: str, step: int) -> str:
    from easymtl.export import export_saved_model

    return export_saved_model(
        runner.serving_model(),
        runner.serving_specs(),
        new_dir(base),
        runner.config,
        export_info(step),
    )


def new_dir(base: str) -> str:
    """base/<unix timestamp>, a name not taken yet."""
    stamp = int(time.time())
    while os.path.exists(os.path.join(base, str(stamp))):
        stamp += 1
    return os.path.join(base, str(stamp))


def clean_export_dir(base: str) -> None:
    """Removes the temporary directories that a killed export left in `base`."""
    for path in glob.glob(os.path.join(glob.escape(base), ".tmp-export-*")):
        shutil.rmtree(path, ignore_errors=True)


def _numbered(base: str) -> list[str]:
    if not os.path.isdir(base):
        return []
    names = [n for n in os.listdir(base) if n.isdigit() and os.path.isdir(os.path.join(base, n))]
    return [os.path.join(base, n) for n in sorted(names, key=int)]


class LatestExport(Callback):
    """Exports the model after every evaluation, to model_dir/export/<timestamp>/,
    keeping the newest `keep` exports (0: all). A checkpoint that model_dir/export holds
    already is not exported again.

    Args:
        model_dir: The model_dir.
        keep: Exports kept.
    """

    def __init__(self, model_dir: str, keep: int):
        self.model_dir = model_dir
        self.base = export_base(model_dir)
        self.keep = keep
        self.exported_step: int | None = None

    def after_evaluate(self, step: int, results: dict) -> None:
        self.export(step)

    def export(self, step: int) -> str:
        """Exports the model in memory, the checkpoint of `step` (in the model_dir's
        evaluation turn); returns the export's path."""
        with EvaluationLock(self.model_dir):
            clean_export_dir(self.base)
            path = exported(self.base, step)
            if path is not None:
                log.info("step %d is exported already (%s); not exported again", step, path)
            else:
                path = _export(self.runner, self.base, step)
            self.exported_step = step
            exports = _numbered(self.base)
            if self.keep:
                for old in exports[: -self.keep]:
                    shutil.rmtree(old, ignore_errors=True)
        return path


class BestExport(Callback):
    """After an evaluation better than every earlier one on the same eval data (by
    `metric`): exports to model_dir/export/best/<timestamp>/ (the best `keep` kept) and
    keeps the evaluated checkpoint in model_dir/best/.

    The best so far is read from model_dir/best/best.json, so it outlives restarts; it
    starts over when eval_input_path or the metric changes (results on other data do
    not compare).

    Args:
        config: The pipeline config.
        metric: What decides "better".
        keep: Best exports kept (0: all).
    """

    def __init__(self, config, metric: BestMetric, keep: int):
        self.config = config
        self.metric = metric
        self.keep = keep
        self.dir = os.path.join(config.model_dir, BEST_DIR)
        self.base = os.path.join(export_base(config.model_dir), "best")

    @property
    def state_path(self) -> str:
        return os.path.join(self.dir, BEST_JSON)

    def state(self) -> dict | None:
        """best.json: {"metric", "metric_larger_is_better", "eval_input_path", "value",
        "global_step", "checkpoint", "exports": [...], "results": {...}}."""
        return read_json(self.state_path)

    def best_value(self) -> float | None:
        """The best value so far on this eval data and metric, if any."""
        state = self.state()
        if not state or (state.get("eval_input_path"), state.get("metric")) != (
            self.config.eval_input_path,
            self.metric.expression,
        ):
            return None
        return state.get("value")

    def recover(self) -> None:
        """Removes what a killed best export left that best.json does not name (in the
        model_dir's evaluation turn: another process's export in progress is not)."""
        clean_export_dir(self.base)
        state = self.state() or {}
        named = {os.path.basename(p) for p in state.get("exports", [])}
        for path in _numbered(self.base):
            if os.path.basename(path) not in named:
                shutil.rmtree(path, ignore_errors=True)
        if os.path.isdir(self.dir):
            remove_stale_temporaries(self.dir)
            keep = state.get("checkpoint")
            for path in glob.glob(os.path.join(glob.escape(self.dir), "model.ckpt-*")):
                name = os.path.basename(path)
                if keep is None or not (name.startswith(keep + ".") and ".tmp-" not in name):
                    os.remove(path)
            if keep:  # the state file may name a newer checkpoint whose best.json was not written
                _point_at(self.dir, keep)

    def after_evaluate(self, step: int, results: dict) -> None:
        with EvaluationLock(self.config.model_dir):
            self.recover()
            self._judge(step, results)

    def _judge(self, step: int, results: dict) -> None:
        value = self.metric.value(results)
        best = self.best_value()
        if not self.metric.better(value, best):
            log.info(
                "best export: %s %s at step %d is not better than the best %s",
                self.metric,
                "n/a" if value is None else f"{value:.6g}",
                step,
                "n/a" if best is None else f"{best:.6g}",
            )
            return
        self.save(step, value, results)

    def save(self, step: int, value: float, results: dict) -> None:
        state = self.state() or {}
        if state and self.best_value() is None:
            log.info(
                "best export: eval_input_path or best_exporter_metric changed; the best starts "
                "over (was %s %s on %r)",
                state.get("metric"),
                state.get("value"),
                state.get("eval_input_path"),
            )
        exports = list(state.get("exports", []))
        path = _export(self.runner, self.base, step)
        exports.append(path)
        checkpoint = self._keep_checkpoint(step)
        kept = exports[-self.keep :] if self.keep else exports
        write_json(
            self.state_path,
            {
                "metric": self.metric.expression,
                "metric_larger_is_better": self.metric.larger_is_better,
                "eval_input_path": self.config.eval_input_path,
                "value": value,
                "global_step": step,
                "checkpoint": checkpoint,
                "export": path,
                "exports": kept,
                "results": results,
            },
            "the best export's record",
        )
        for old in exports:
            if old not in kept:
                shutil.rmtree(old, ignore_errors=True)
        self.recover()  # the previous best checkpoint's files
        log.info(
            "best export: %s %.6g at step %d is the best; exported to %s, checkpoint kept in %s",
            self.metric,
            value,
            step,
            path,
            self.dir if checkpoint else "(none: it was already deleted)",
        )

    def _keep_checkpoint(self, step: int) -> str | None:
        """Links (or copies) the files of model.ckpt-<step> into model_dir/best/ and
        points best/checkpoint at them; the name, or None if they are gone (rotated
        away before a separate evaluator got to them)."""
        name = f"model.ckpt-{step}"
        source = os.path.join(self.config.model_dir, name)
        files = glob.glob(glob.escape(source) + ".index") + glob.glob(
            glob.escape(source) + ".data-*"
        )
        if not any(f.endswith(".index") for f in files):
            log.warning("best export: checkpoint %s is gone; only the export is kept", source)
            return None
        os.makedirs(self.dir, exist_ok=True)
        for path in files:
            target = os.path.join(self.dir, os.path.basename(path))
            tmp = f"{target}.tmp-{os.getpid()}"
            try:
                os.link(path, tmp)
            except OSError:
                shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        _point_at(self.dir, name)
        return name


def _point_at(directory: str, name: str) -> None:
    """Writes `directory`/checkpoint naming `name` as its only checkpoint, so that
    tf.train.latest_checkpoint(directory) finds it."""
    write_text(
        os.path.join(directory, "checkpoint"),
        f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n',
        "file",
    )
