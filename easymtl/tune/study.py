"""Runs a study with Optuna: each trial is one ``python -m easymtl.train`` process.

A trial trains ``<output_dir>/trial_<n>`` with the config and the trial's field values
as ``--edit_config_json``, its output in ``<output_dir>/trial_<n>.log``, and scores
``eval_result.json``'s metric. A trial whose process exits non-zero is recorded as
failed with its error line; the study goes on. The study lives in Optuna's storage (by
default a SQLite file in the output directory), so running the same command again
continues it up to ``n_trials`` trials, and several machines can share one storage URL.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable

from easymtl.errors import EasymtlError
from easymtl.tune.space import Param

log = logging.getLogger(__name__)

# A trial whose process died without telling (its tuner killed) stops its heartbeat;
# after the grace period the next tuner of the study marks it failed and runs its
# values again.
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 30
MAX_RETRIES = 2


class TrialFailed(Exception):
    """A trial's training process failed; the message is its error line."""


def optuna():
    """The optuna module.

    Raises:
        EasymtlError: Optuna is not installed.
    """
    try:
        import optuna
    except ImportError:
        raise EasymtlError("optuna is not installed; pip install 'easymtl[tune]' to tune") from None
    return optuna


def default_direction(metric: str) -> str:
    """``minimize`` for losses and errors, else ``maximize``."""
    lower = ("loss", "mean_squared_error", "mean_absolute_error")
    return "minimize" if metric.startswith(lower) else "maximize"


def open_study(
    storage: str,
    study_name: str,
    metric: str,
    direction: str,
    seed: int | None = None,
):
    """Creates the study in `storage`, or loads it when it exists.

    Raises:
        EasymtlError: the storage URL does not open, or the stored study tunes another
            metric or direction.
    """
    opt = optuna()
    retry, keyword = _retry_callback()
    try:
        rdb = opt.storages.RDBStorage(
            storage,
            heartbeat_interval=HEARTBEAT_SECONDS,
            grace_period=GRACE_SECONDS,
            **{keyword: retry(max_retry=MAX_RETRIES)},
        )
    except Exception as e:  # SQLAlchemy and its drivers raise many kinds
        raise EasymtlError(f"--storage: cannot open {storage!r}: {_one_line(e)}") from None
    existing = {s.study_name: s for s in opt.get_all_study_summaries(rdb)}
    if study_name in existing:
        stored = existing[study_name]
        was = stored.user_attrs.get("metric")
        if was != metric:
            raise EasymtlError(
                f"--metric: study {study_name!r} in {storage} tunes {was}, not {metric}; "
                "use another --study_name or --output_dir"
            )
        was = stored.direction.name.lower()
        if was != direction:
            raise EasymtlError(
                f"--direction: study {study_name!r} in {storage} is {was}, not {direction}"
            )
    # A resumed study must not draw the first run's values again.
    done = existing[study_name].n_trials if study_name in existing else 0
    study = opt.create_study(
        storage=rdb,
        study_name=study_name,
        direction=direction,
        sampler=opt.samplers.TPESampler(seed=None if seed is None else seed + done),
        load_if_exists=True,
    )
    study.set_user_attr("metric", metric)
    return study


def retries(study) -> dict[int, int]:
    """{number of a trial whose tuner died: number of the trial that ran it again}."""
    retry = _retry_callback()[0]
    trials = study.get_trials(deepcopy=False)
    # A retry's history lists every trial it stands for, the original first.
    return {n: t.number for t in trials for n in retry.retry_history(t)}


def counted_trials(study) -> list:
    """The study's finished trials (complete or failed), without the ones that another
    trial ran again after their tuner died."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = retries(study)
    return [
        t
        for t in trials
        if t.state in (TrialState.COMPLETE, TrialState.FAIL) and t.number not in retried
    ]


def run_trials(
    study,
    space: list[Param],
    config_path: str,
    base_edits: dict[str, object],
    output_dir: str,
    n_trials: int,
    progress: Callable[[str], None] = lambda line: None,
    delete_models: bool = False,
) -> None:
    """Runs trials of `study` until it has `n_trials` counted trials.

    Args:
        study: From :func:`open_study`.
        space: The searched fields.
        config_path: The config each trial trains.
        base_edits: Field edits of every trial (the tuner's own config flags).
        output_dir: Where trial_<n>/ and trial_<n>.log go.
        n_trials: Total trials of the study, over all runs and machines.
        progress: Called with one line per finished trial.
        delete_models: Remove each trial's checkpoints and exports once it is done (the
            table and best.config need only its eval_result.json).
    """
    metric = study.user_attrs["metric"]

    def objective(trial) -> float:
        edits = {**base_edits, **{p.path: p.suggest(trial) for p in space}}
        model_dir = os.path.join(output_dir, f"trial_{trial.number}")
        trial.set_user_attr("model_dir", model_dir)
        trial.set_user_attr("edits", json.dumps(edits))
        command = [
            sys.executable, "-m", "easymtl.train", "--config", config_path,
            "--model_dir", model_dir, "--edit_config_json", json.dumps(edits),
        ]  # fmt: skip
        start = time.perf_counter()
        with open(f"{model_dir}.log", "w", encoding="utf-8") as out:
            status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
        if delete_models:
            _delete_models(model_dir)
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 1))
        if status != 0:
            error = _error_line(f"{model_dir}.log") or f"exit status {status}"
            trial.set_user_attr("error", error)
            raise TrialFailed(error)
        with open(os.path.join(model_dir, "eval_result.json"), encoding="utf-8") as f:
            results = json.load(f)
        if not isinstance(results.get(metric), (int, float)):
            known = ", ".join(k for k, v in results.items() if isinstance(v, float))
            error = f"no {metric} in eval_result.json (metrics: {known})"
            trial.set_user_attr("error", error)
            raise TrialFailed(error)
        return float(results[metric])

    def finished(study, trial) -> None:
        progress(_describe(study, trial, metric))
        if len(counted_trials(study)) >= n_trials:
            study.stop()

    remaining = n_trials - len(counted_trials(study))
    if remaining <= 0:
        return
    os.makedirs(output_dir, exist_ok=True)
    study.optimize(objective, n_trials=remaining, catch=(TrialFailed,), callbacks=[finished])


def _delete_models(model_dir: str) -> None:
    """Removes the checkpoints and SavedModels of `model_dir`; keeps eval_result.json,
    pipeline.config and the TensorBoard events."""
    if not os.path.isdir(model_dir):
        return
    for name in os.listdir(model_dir):
        path = os.path.join(model_dir, name)
        if name == "export":
            shutil.rmtree(path, ignore_errors=True)
        elif name == "checkpoint" or name.startswith("model.ckpt-"):
            os.remove(path)


def _retry_callback():
    """The class that reruns a stale trial and the RDBStorage argument that takes it
    (renamed in Optuna 4.9)."""
    from optuna import storages

    if hasattr(storages, "RetryHeartbeatStaleTrialCallback"):
        return storages.RetryHeartbeatStaleTrialCallback, "heartbeat_stale_trial_callback"
    return storages.RetryFailedTrialCallback, "failed_trial_callback"


def _describe(study, trial, metric: str) -> str:
    from optuna.trial import TrialState

    seconds = trial.user_attrs.get("seconds", 0.0)
    if trial.state != TrialState.COMPLETE:
        error = trial.user_attrs.get("error", trial.state.name.lower())
        return f"trial {trial.number} failed after {seconds:.0f}s: {error}"
    best = study.best_trial
    return (
        f"trial {trial.number}: {metric} {trial.value:.4f} in {seconds:.0f}s "
        f"(best {best.value:.4f}, trial {best.number})"
    )


def _error_line(log_path: str) -> str:
    """The last ``error: ...`` line of a trial's log, else its last line."""
    with open(log_path, encoding="utf-8", errors="replace") as f:
        lines = [line.strip() for line in f if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    if errors:
        return errors[-1][len("error: ") :]
    return lines[-1] if lines else ""


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:300]
