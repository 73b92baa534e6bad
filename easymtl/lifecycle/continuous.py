"""The continuous evaluator: scores each new checkpoint of a model_dir as training
writes it, in a process of its own (``python -m easymtl.evaluate --continuous``)."""

from __future__ import annotations

import logging
import os
import re
import time

import tensorflow as tf

from easymtl.errors import EasymtlError
from easymtl.lifecycle import history, runs
from easymtl.lifecycle.owner import evaluate_new
from easymtl.run_guard import EvaluationLock
from easymtl.trainer.state import CheckpointMismatch

log = logging.getLogger("easymtl")


def checkpoints(model_dir: str) -> list[tuple[int, str]]:
    """(step, prefix) of model_dir's checkpoints, oldest first."""
    try:
        state = tf.train.get_checkpoint_state(model_dir)
    except (tf.errors.OpError, ValueError):  # being rewritten; the next look reads it
        return []
    if state is None:
        return []
    found = {}
    # get_checkpoint_state has joined relative paths with model_dir already (joining
    # again would find nothing for a relative model_dir such as "runs/x").
    for path in state.all_model_checkpoint_paths:
        match = re.search(r"-(\d+)$", path)
        if match and os.path.exists(path + ".index"):
            found[int(match.group(1))] = path
    return sorted(found.items())


class ContinuousEvaluator:
    """Evaluates `runner`'s model_dir checkpoints newer than every one that
    eval_history.jsonl holds for this eval data, oldest first, taking turns with a
    trainer on the same model_dir (see :mod:`easymtl.lifecycle.owner`): a checkpoint the
    trainer evaluated first is not evaluated again.

    Args:
        runner: A Runner whose callbacks record (and export) the evaluations.
        interval_secs: Seconds between looks for a new checkpoint.
        timeout_secs: Stop after this long without a new checkpoint (0: never).
    """

    def __init__(self, runner, interval_secs: float = 10.0, timeout_secs: float = 3600.0):
        self.runner = runner
        self.model_dir = runner.config.model_dir
        self.interval_secs = interval_secs
        self.timeout_secs = timeout_secs

    def evaluate(self, path: str) -> dict:
        """Restores the checkpoint at `path` and evaluates it (in the model_dir's
        evaluation turn, whether or not it was evaluated before).

        Raises:
            EasymtlError: it is not a checkpoint of this model.
        """
        self._restore(path)
        with EvaluationLock(self.model_dir):
            return self.runner.evaluator.evaluate()

    def _restore(self, path: str) -> None:
        try:
            self.runner.state.restore(path)
        except CheckpointMismatch as e:
            raise EasymtlError(
                f"checkpoint {path!r}: cannot be evaluated with this config ({e})"
            ) from None

    def _evaluate_new(self, step: int, path: str) -> dict | None:
        """Evaluates the checkpoint of `step` at `path` unless, in this turn, a step as
        new is found evaluated (by the trainer); None then."""

        def restore_and_evaluate():
            self._restore(path)
            return self.runner.evaluator.evaluate()

        return evaluate_new(self.runner, step, restore_and_evaluate)

    def pending(self) -> list[tuple[int, str]]:
        """(step, prefix) of the checkpoints newer than the newest evaluated, oldest first."""
        newest = history.newest_step(self.model_dir, self.runner.config.eval_input_path)
        return [(s, p) for s, p in checkpoints(self.model_dir) if newest is None or s > newest]

    def finished(self) -> bool:
        """Whether the last training run is finished and its end evaluated."""
        recorded = runs.read(self.model_dir) if os.path.isdir(self.model_dir) else []
        if not recorded or recorded[-1].end_step is None:
            return False
        done = history.evaluated_steps(self.model_dir, self.runner.config.eval_input_path)
        return recorded[-1].end_step in done

    def run(self) -> int:
        """Evaluates checkpoints as they appear; returns how many it evaluated."""
        count, last_new, gone = 0, time.monotonic(), set()
        log.info("continuous evaluation of %s: waiting for checkpoints", self.model_dir)
        while True:
            pending = [(s, p) for s, p in self.pending() if p not in gone]
            for step, path in pending:
                if not os.path.exists(path + ".index"):
                    gone.add(path)  # deleted by keep_checkpoint_max before its turn
                    continue
                try:
                    results = self._evaluate_new(step, path)
                except EasymtlError:
                    if os.path.exists(path + ".index"):
                        raise
                    log.warning("checkpoint %s was deleted while it was evaluated", path)
                    gone.add(path)
                    continue
                if results is not None:
                    count += 1
                last_new = time.monotonic()
            if pending:
                continue  # more may have come meanwhile
            if self.finished():
                log.info("training is finished; %d checkpoints evaluated", count)
                return count
            if self.timeout_secs and time.monotonic() - last_new > self.timeout_secs:
                log.info(
                    "no new checkpoint for %.0fs (--timeout_secs); %d checkpoints evaluated",
                    self.timeout_secs,
                    count,
                )
                return count
            time.sleep(self.interval_secs)
