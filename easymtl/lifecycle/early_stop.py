"""Early stopping (export_config.enable_early_stop): training stops when the best metric
has not improved for too many steps or evaluations.

The evaluations are read from model_dir/eval_history.jsonl, whoever wrote them: this
process evaluating during training, or a separate continuous evaluator (as an
estimator's stop_if_no_increase_hook reads the evaluator's results). Only this run's
evaluations on this eval data count.
"""

from __future__ import annotations

import logging

from easymtl.callbacks import Callback
from easymtl.lifecycle import history
from easymtl.lifecycle.metric import BestMetric

log = logging.getLogger("easymtl")


class EarlyStop(Callback):
    """Requests a stop when `metric` has not improved on the run's best for
    `max_check_steps` steps or `patience` evaluations (0: that limit is off).

    Args:
        config: The pipeline config.
        metric: The metric and its direction.
        max_check_steps: Steps allowed without an improvement.
        patience: Evaluations allowed without an improvement.

    Attributes:
        reason: Why a stop was requested, once it was.
    """

    def __init__(self, config, metric: BestMetric, max_check_steps: int, patience: int):
        self.config = config
        self.metric = metric
        self.max_check_steps = max_check_steps
        self.patience = patience
        self.reason: str | None = None

    def after_evaluate(self, step: int, results: dict) -> None:
        self.check()

    def on_checkpoint(self, step: int, path: str) -> None:
        self.check()  # a separate evaluator's results

    def check(self) -> str | None:
        """The reason to stop now, if there is one (and requests the stop)."""
        run = getattr(self.runner, "run", None)
        if run is None or self.reason is not None:
            return self.reason
        entries = [
            e
            for e in history.read(self.config.model_dir)
            if e.get("eval_input_path") == self.config.eval_input_path
            and e.get("global_step", 0) > run.start_step
            and e.get("global_step", 0) <= int(self.runner.global_step.numpy())
        ]
        if not entries:
            return None
        best_i, best = None, None
        for i, entry in enumerate(entries):
            value = self.metric.value(entry)
            if self.metric.better(value, best):
                best_i, best = i, value
        since_evals = len(entries) - 1 - (best_i if best_i is not None else -1)
        base_step = entries[best_i]["global_step"] if best_i is not None else run.start_step
        since_steps = entries[-1]["global_step"] - base_step
        best_text = (
            f"its best {best:.6g} at step {base_step}"
            if best_i is not None
            else f"no defined value since step {base_step}"
        )
        reason = None
        if self.patience and since_evals >= self.patience:
            evals = _count(since_evals, "evaluation")
            reason = (
                f"early stop: {self.metric} has not improved in {evals} "
                f"({best_text}; export_config.early_stop_patience: {self.patience})"
            )
        elif self.max_check_steps and since_steps >= self.max_check_steps:
            steps = _count(since_steps, "step")
            reason = (
                f"early stop: {self.metric} has not improved in {steps} "
                f"({best_text}; export_config.max_check_steps: {self.max_check_steps})"
            )
        if reason:
            self.reason = run.stop_reason = reason  # the run is over, not paused
            log.info("%s", reason)
            self.runner.request_stop(reason)
        return reason


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
