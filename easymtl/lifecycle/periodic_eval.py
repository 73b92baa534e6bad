"""Evaluation while training: every eval_config.eval_interval_steps steps, on the
checkpoint just saved."""

from __future__ import annotations

import logging

from easymtl.callbacks import Callback

log = logging.getLogger("easymtl")


class PeriodicEval(Callback):
    """Evaluates the model at each checkpoint whose step is a multiple of `interval`.

    The model in memory is the checkpoint just saved, so nothing is restored. The
    results go where every evaluation's go (eval_result.json, model_dir/eval/, the
    after_evaluate callbacks: history, best export, early stopping). A checkpoint that a
    continuous evaluator on the same model_dir evaluated first is not evaluated again.

    Args:
        interval: Steps between evaluations (0: none during training).

    Attributes:
        evaluated_step: The step of this process's last evaluation, if any.
    """

    def __init__(self, interval: int):
        self.interval = interval
        self.evaluated_step: int | None = None

    def before_train(self, step: int) -> None:
        # A restart after a kill during an evaluation (or its export): the restored
        # checkpoint's evaluation was never recorded, so it is done now.
        from easymtl.lifecycle import history

        runner = self.runner
        config = runner.config
        if not (self.interval and step and step % self.interval == 0):
            return
        if runner.cluster.is_chief and step not in history.evaluated_steps(
            config.model_dir, config.eval_input_path
        ):
            log.info("step %d was not evaluated (stopped during it?): evaluating it now", step)
            self.evaluate(step)

    def on_checkpoint(self, step: int, path: str) -> None:
        if self.interval and step % self.interval == 0 and step != self.evaluated_step:
            self.evaluate(step)

    def evaluate(self, step: int) -> dict | None:
        """Evaluates the model in memory, the checkpoint of `step`, unless a step as new
        is evaluated already (see :func:`easymtl.lifecycle.owner.evaluate_new`)."""
        from easymtl.lifecycle.owner import evaluate_new

        results = evaluate_new(self.runner, step, self.runner.evaluator.evaluate)
        self.evaluated_step = step
        return results
