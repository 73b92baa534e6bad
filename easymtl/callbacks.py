"""Callbacks: code the runner calls at fixed points of training and evaluation.

A callback subclasses :class:`Callback` and overrides the hooks it needs; the others do
nothing. ``Runner(config, callbacks=[...])`` calls them in list order, and sets each
callback's ``runner`` (a weak proxy) first, so a hook can read the runner's state
(``global_step``, ``state``, ``history``, ``train_log``, ...), evaluate
(``runner.evaluator.evaluate()``), or end training with :meth:`Runner.request_stop`.
The loop (:mod:`easymtl.trainer.loop`) calls the train hooks around each round of
:meth:`Runner.run_step`; the evaluator (:mod:`easymtl.trainer.evaluator`) the eval
hooks.

A ``train()`` that finds training already finished calls no train hooks. Every worker
of a multi-worker run calls the step hooks; only the chief saves, so only
the chief calls :meth:`Callback.on_checkpoint`. A stop requested on any worker stops
every worker before the next step.

Example:
    ```python
    class StopWhenFlat(Callback):
        def after_step(self, step, result):
            if step >= 100 and float(result.loss) < 1e-3:
                self.runner.request_stop(f"loss {float(result.loss):.2g} below 1e-3")

    Runner(config, callbacks=[StopWhenFlat()]).train()
    ```
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from easymtl.runner import Runner
    from easymtl.train_step import StepResult


class Callback:
    """The runner's hooks, each a no-op here (detectron2's ``HookBase``).

    Attributes:
        runner: The runner calling the hooks; set when the runner is built.
    """

    runner: Runner

    def before_train(self, step: int) -> None:
        """Called once the latest checkpoint is restored, before the first step.

        Args:
            step: The restored global step (0 for a fresh model_dir).
        """

    def before_step(self, step: int) -> None:
        """Called before each train step.

        Args:
            step: The number the step will have (the global step after it).
        """

    def after_step(self, step: int, result: StepResult) -> None:
        """Called after each train step, once a non-finite step has been judged (a
        skipped batch arrives here with ``result.applied`` false), before the step's
        checkpoint.

        Args:
            step: The global step after the step.
            result: The step's losses, loss weights and non-finite flags.
        """

    def on_checkpoint(self, step: int, path: str) -> None:
        """Called after a checkpoint is saved (on the chief only).

        Args:
            step: The checkpoint's global step.
            path: The checkpoint's path prefix (model_dir/model.ckpt-<step>).
        """

    def after_train(self, step: int) -> None:
        """Called when training ends normally (its end reached or a stop requested),
        after the last checkpoint; not when it fails or is interrupted by a signal.

        Args:
            step: The last global step.
        """

    def progress(self, step: int) -> str | None:
        """How far training is at `step`, for the runner's periodic ``step`` log line,
        where it replaces the bare step number: e.g. ``20/157 (13%, eta 4m16s)``
        (:class:`easymtl.progress.Progress`). The first callback that returns text is
        used; with none, the line reads ``step 20`` (``step 20/60`` with num_steps).

        Args:
            step: The global step of the line.
        """
        return None

    def before_evaluate(self, step: int) -> None:
        """Called when an evaluation starts, before its first batch is read.

        Args:
            step: The global step of the checkpoint evaluated.
        """

    def after_eval_step(self, index: int, examples: int) -> None:
        """Called after each evaluation batch.

        Args:
            index: The batch's position in the evaluation, from 0.
            examples: The rows of the batch.
        """

    def after_evaluate(self, step: int, results: dict) -> None:
        """Called after an evaluation, once eval_result.json is written.

        Args:
            step: The global step of the evaluated checkpoint.
            results: The evaluation results, as in eval_result.json.
        """
