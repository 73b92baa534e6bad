"""One owner at a time of a model_dir's evaluations and exports.

A trainer (its evaluations during and after training, its exports), a continuous
evaluator (``python -m easymtl.evaluate --continuous``), one-off evaluations and exports
may all run on one model_dir at once. Each evaluation, with everything written after it
(eval_result.json, eval/ events, eval_history.jsonl, best/, the best or latest export),
and each export happens under the model_dir's
:class:`~easymtl.run_guard.EvaluationLock`: they take turns.

In its turn, an evaluation of training progress (:func:`evaluate_new`: the trainer's, or
a continuous evaluator's) goes ahead only for a checkpoint newer than every one
evaluated on the same eval data. So no checkpoint is evaluated twice, the history grows
in step order, and the best export, decided in the same turn from best/best.json, is
the best entry of the history, whoever evaluated it. An export of a checkpoint that
model_dir/export already holds is not written again
(:func:`easymtl.export.info.exported`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from easymtl.lifecycle import history
from easymtl.run_guard import EvaluationLock

log = logging.getLogger("easymtl")


def evaluate_new(runner, step: int, evaluate: Callable[[], dict]) -> dict | None:
    """``evaluate()`` in the model_dir's evaluation turn, unless `step` is not newer
    than the newest step evaluated on this eval data (by another process, or before a
    restart): then nothing is evaluated and None returned."""
    config = runner.config
    with EvaluationLock(config.model_dir):
        newest = history.newest_step(config.model_dir, config.eval_input_path)
        if newest is not None and step <= newest:
            if step == newest:
                log.info("step %d is evaluated already (%s)", step, history.HISTORY)
            else:
                log.info(
                    "step %d: not evaluated, step %d is evaluated already (%s grows in step order)",
                    step,
                    newest,
                    history.HISTORY,
                )
            return None
        return evaluate()
