"""Evaluation, beside training: the model's variables as they are, scored on the eval
data, with the results written where every evaluation's go.

:class:`Evaluator` is what the runner's ``evaluate()``, the periodic evaluation of the
lifecycle callbacks and the continuous evaluator (``python -m easymtl.evaluate``) all
call. ``evaluate()`` resets the metrics, calls ``before_evaluate``, runs
:meth:`Evaluator.run_step` on each eval batch (calling ``after_eval_step`` after each),
gathers the results, logs them, writes model_dir/eval_result.json and the eval data's
TensorBoard scalars, then calls ``after_evaluate``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import keras
import tensorflow as tf

from easymtl import eval_runs
from easymtl.data.checks import no_rows_evaluated
from easymtl.disk import write_json
from easymtl.metrics import metric_result
from easymtl.metrics.gates import GateStats, gate_results, warn_collapsed

log = logging.getLogger("easymtl")


class Evaluator:
    """Scores the model's current variables on the eval data.

    Args:
        model: The multi-task model.
        tasks: Its tasks.
        losses: ``losses(labels, outputs) -> (total, {tower: loss})`` (the train step's,
            with the towers' fixed weights).
        score_eval: The fused score's evaluation, or None.
        inputs: The runner's :class:`~easymtl.trainer.inputs.Inputs`.
        dataset: Makes the eval batches (the runner's ``build_dataset(False)``).
        state: The :class:`~easymtl.trainer.state.TrainState` (global step, counters).
        config: The PipelineConfig.
        callbacks: The runner's callbacks (their eval hooks are called).

    Attributes:
        losses, metrics, score_metrics, gate_stats: What an evaluation accumulates: the
            mean losses by tower (and "total"), each tower's metrics, the fused score's,
            and each gate's expert weights.
    """

    def __init__(
        self,
        model: keras.Model,
        tasks: list,
        losses: Callable,
        score_eval,
        inputs,
        dataset: Callable[[], tf.data.Dataset],
        state,
        config,
        callbacks: list,
    ):
        self.model = model
        self.tasks = tasks
        self.loss_fn = losses
        self.score_eval = score_eval
        self.inputs = inputs
        self.dataset = dataset
        self.state = state
        self.config = config
        self.callbacks = callbacks
        self.losses = {t.name: keras.metrics.Mean() for t in tasks}
        self.losses["total"] = keras.metrics.Mean()
        self.metrics = {t.name: t.make_metrics() for t in tasks}
        self.score_metrics = score_eval.make_metrics() if score_eval else []
        # Per gate of a gated backbone (MMoE, PLE, ...): its experts' mean weights and
        # its entropy on the eval set.
        self.gate_stats = {
            name: GateStats(experts, name=f"gate_{i}")
            for i, (name, experts) in enumerate(model.gate_names())
        }
        self._compiled = None

    def compiled(self, dataset: tf.data.Dataset):
        """:meth:`run_step` as one tf.function, traced once for the dataset's element
        spec (batch dimension None, so the last, smaller batch reuses it)."""
        if self._compiled is None:
            self._compiled = tf.function(
                self.run_step, input_signature=[dataset.element_spec], autograph=False
            )
        return self._compiled

    def run_step(self, batch) -> None:
        """Adds one eval batch to the losses and metrics (traced into :meth:`compiled`)."""
        features, labels = self.inputs.split(batch)
        outputs = self.model(features, training=False, return_gates=bool(self.gate_stats))
        total, losses = self.loss_fn(labels, outputs)
        for name, stats in self.gate_stats.items():
            stats.update_state(outputs[f"gate/{name}"])
        for task in self.tasks:
            self.losses[task.name].update_state(losses[task.name])
            task.update_metrics(self.metrics[task.name], labels, outputs)
        self.losses["total"].update_state(total)
        if self.score_eval:
            self.score_eval.update_metrics(self.score_metrics, labels, outputs)

    def evaluate(self) -> dict:
        """Evaluates the variables as they are (of the state's global step) on
        eval_input_path (at most eval_config.num_steps batches); writes the results and
        returns them."""
        step = int(self.state.global_step.numpy())
        self.reset()
        limit = self.config.eval_config.num_steps or None
        for callback in self.callbacks:
            callback.before_evaluate(step)
        start, examples = time.perf_counter(), 0
        dataset = self.dataset()
        eval_step = self.compiled(dataset)
        bad_rows = self.inputs.bad_rows(False)
        for i, batch in enumerate(bad_rows(dataset)):
            if limit is not None and i >= limit:
                break
            rows = self.inputs.rows(batch)
            if rows:
                eval_step(batch)
            examples += rows
            for callback in self.callbacks:
                callback.after_eval_step(i, rows)
        if not examples:
            raise no_rows_evaluated(bad_rows.skipped)
        results = self.results(step, examples, bad_rows.skipped)
        _log_results(results, examples, time.perf_counter() - start, list(self.gate_stats))
        warn_collapsed(self.gate_stats)
        self.write(results, step)
        for callback in self.callbacks:
            callback.after_evaluate(step, results)
        return results

    def reset(self) -> None:
        """Clears what the last evaluation accumulated."""
        for metric in (
            list(self.losses.values())
            + self.score_metrics
            + list(self.gate_stats.values())
            + [m for ms in self.metrics.values() for m in ms]
        ):
            metric.reset_state()

    def results(self, step: int, examples: int, bad_rows: int) -> dict:
        """The accumulated results, as eval_result.json holds them."""
        results = {"global_step": step}
        for task in self.tasks:
            for metric in self.metrics[task.name]:
                results[metric.name] = metric_result(metric, task.name, task.label_name)
            results[task.loss_name] = float(self.losses[task.name].result())
        results["loss"] = float(self.losses["total"].result())
        score_labels = self.score_eval.label_names if self.score_eval else []
        for metric, label in zip(self.score_metrics, score_labels):
            results[metric.name] = metric_result(metric, "fused score", label)
        for name, stats in self.gate_stats.items():
            results.update(gate_results(name, stats))
        results["num_examples"] = examples
        results["bad_rows_skipped"] = bad_rows
        results["train_bad_rows_skipped"] = int(self.state.bad_rows_skipped.numpy())
        if bad_rows:
            log.warning("%d bad eval rows skipped (data_config.bad_row_policy: SKIP)", bad_rows)
        return results

    def write(self, results: dict, step: int) -> None:
        """Writes model_dir/eval_result.json and, with TensorBoard on, the scalars to the
        eval data's TensorBoard run (:mod:`easymtl.eval_runs`; once per step)."""
        model_dir = self.config.model_dir
        os.makedirs(model_dir, exist_ok=True)
        write_json(os.path.join(model_dir, "eval_result.json"), results, "evaluation results")
        if not self.config.train_config.use_tensorboard:
            return
        # Eval losses under the train run's tags (loss/<tower>), so that the curves overlay.
        tags = {t.loss_name: f"loss/{t.name}" for t in self.tasks if t.name}
        values = {tags.get(k, k): v for k, v in results.items() if isinstance(v, float)}
        logdir = eval_runs.eval_logdir(model_dir, self.config.eval_input_path)
        eval_runs.write_eval(logdir, values, step)


def _log_results(results: dict, examples: int, seconds: float, gates: list[str]) -> None:
    log.info(
        "eval at step %d on %d examples (%.0f examples/sec): %s",
        results["global_step"],
        examples,
        examples / max(seconds, 1e-9),
        "  ".join(
            f"{k} {'n/a' if v is None else f'{v:.4f}'}"
            for k, v in results.items()
            if (v is None or isinstance(v, float)) and not k.startswith("gate/")
        ),
    )
    for name in gates:
        log.info(
            "gate %s: %s",
            name,
            "  ".join(
                f"{k.rsplit('/', 1)[1]} {v:.3f}"
                for k, v in results.items()
                if k.startswith(f"gate/{name}/")
            ),
        )
