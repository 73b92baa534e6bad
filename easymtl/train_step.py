"""The train step's math: losses, gradients (averaged over the workers), clipping and
the non-finite check.

The runner applies what :meth:`TrainStep.gradients` computes, in one tf.function, and
hands each step's :class:`StepResult` to its callbacks. Nothing here saves, logs on
schedule or owns an optimizer.

Example:
    ```python
    runner = Runner(config)
    features, labels = runner.split(next(iter(runner.build_dataset(True))))
    grads = runner.train_step.gradients(features, labels)
    assert not bool(tf.reduce_any(grads.non_finite))
    ```
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import keras
import tensorflow as tf

from easymtl.distribute import Cluster
from easymtl.errors import EasymtlError
from easymtl.tasks import Task
from easymtl.weighting.fixed import LossWeighting

log = logging.getLogger("easymtl")


class Gradients(NamedTuple):
    """One step's losses and gradients, before any update.

    Attributes:
        total: This worker's total loss (the weighted task losses and the model's own).
        losses: This worker's task losses by tower name.
        gradients: One per variable of ``embedding_vars + dense_vars`` (in that order),
            averaged over the workers; not clipped.
        non_finite: [num tasks + 1] bools: which task losses, and (last) whether the
            gradients, are NaN or infinite on any worker.
        weights: [num tasks], the task loss weights of the step.
        task_losses: [num tasks], the task losses averaged over the workers.
        grad_norms: [num tasks], the norms of the task gradients of the shared
            variables, averaged over the workers (zeros unless the weighting needs them).
        predictions: The model outputs that the tasks' train metrics read, by name.
    """

    total: tf.Tensor
    losses: dict[str, tf.Tensor]
    gradients: list
    non_finite: tf.Tensor
    weights: tf.Tensor
    task_losses: tf.Tensor
    grad_norms: tf.Tensor
    predictions: dict


class StepResult(NamedTuple):
    """What one train step did, as :meth:`Callback.after_step` sees it.

    Attributes:
        loss: This worker's total loss.
        losses: This worker's task losses by tower name.
        weights: [num tasks], the task loss weights of the step.
        non_finite: [num tasks + 1] bools, as in :class:`Gradients`; any true means the
            update was withheld.
        examples: The rows of this worker's batch.
        labels: The batch's label columns (the tasks' labels, space indicators, sample
            weights and metric columns) by field name.
        predictions: The model outputs that the tasks' train metrics read
            (``probs_<tower>``, ``y_<tower>``), by name; empty without train metrics.
    """

    loss: tf.Tensor
    losses: dict[str, tf.Tensor]
    weights: tf.Tensor
    non_finite: tf.Tensor
    examples: tf.Tensor
    labels: dict[str, tf.Tensor]
    predictions: dict = {}  # noqa: RUF012 (a NamedTuple field's default)

    @property
    def applied(self) -> bool:
        """Whether the update was applied (every loss and gradient finite). Eager only."""
        return not bool(tf.reduce_any(self.non_finite))


class TrainStep:
    """Computes a train step's losses and gradients, clips them, and judges non-finite
    steps; the runner builds one (:meth:`Runner.build_train_step`) and applies its
    gradients.

    Args:
        model: The multi-task model.
        tasks: Its tasks, in tower order.
        weighting: The loss weighting.
        embedding_vars: The embedding tables, or the shards of a sharded one (sparse
            optimizer).
        dense_vars: Every other trainable variable, the weighting's included.
        shared_vars: The dense variables that several task losses reach, where the
            weighting needs per-task gradients of them; else empty.
        global_step: The step counter the weighting reads.
        epoch: The epoch counter the weighting reads.
        cluster: The training workers (gradients are averaged over them).
        loss_scale: The :class:`~easymtl.trainer.loss_scale.LossScale` of a float16
            model: the loss is multiplied by its scale before the gradients are taken
            and they are divided by it after; None: no scaling.
        clipping_type: "norm" (global norm), "value", or "none".
        max_gradient: The clipping bound.
        skip_non_finite: Whether a non-finite step is skipped (nan_loss_policy:
            SKIP_BATCH) rather than stopping training.
    """

    def __init__(
        self,
        model: keras.Model,
        tasks: list[Task],
        weighting: LossWeighting,
        embedding_vars: list,
        dense_vars: list,
        shared_vars: list,
        global_step: tf.Variable,
        epoch: tf.Variable,
        cluster: Cluster,
        loss_scale=None,
        clipping_type: str = "none",
        max_gradient: float = 0.0,
        skip_non_finite: bool = False,
    ):
        if clipping_type not in ("none", "norm", "value"):
            raise ValueError(
                f'`clipping_type` must be "none", "norm" or "value". Received: {clipping_type!r}'
            )
        self.model = model
        self.tasks = tasks
        self.weighting = weighting
        self.embedding_vars = embedding_vars
        self.dense_vars = dense_vars
        self.shared_vars = shared_vars
        self.global_step = global_step
        self.epoch = epoch
        self.cluster = cluster
        self.loss_scale = loss_scale
        self.clipping_type = clipping_type
        self.max_gradient = max_gradient
        self.skip_non_finite = skip_non_finite
        # The outputs the train metrics read, handed out with each step's result.
        self.prediction_names = sorted(
            {t.prediction_name for t in tasks if t.train_metric_builders}
        )

    def no_predictions(self, rows) -> dict:
        """Zeros shaped as :attr:`Gradients.predictions` of a batch of `rows` rows (the
        result of a step that trains nothing)."""
        shapes = {t.prediction_name: t.num_class for t in self.tasks}
        return {
            name: tf.zeros([rows] if shapes[name] == 1 else [rows, shapes[name]])
            for name in self.prediction_names
        }

    def losses(self, labels, outputs, weights=None):
        """The total loss and the task losses by tower. The total weights the task losses
        by `weights` ([num tasks], the loss weighting's, with its own terms) or, without
        them (evaluation), by the towers' fixed weights; the model's own losses add in."""
        losses = {t.name: t.loss(labels, outputs) for t in self.tasks}
        if weights is None:
            total = tf.add_n([t.weight * losses[t.name] for t in self.tasks])
        else:
            total = self.weighting.total(tf.stack([losses[t.name] for t in self.tasks]), weights)
        if self.model.losses:
            total += tf.add_n(self.model.losses)
        return total, losses

    def gradients(self, features, labels) -> Gradients:
        """The step's losses and gradients on this worker's batch, averaged over the
        workers (see :mod:`easymtl.distribute`; call it in ``Cluster.run`` there).

        Where the weighting needs per-task gradients, each task's gradient of
        ``w_k × L_k`` on the shared dense variables is averaged over the workers and
        combined by the weighting; every other variable gets its gradient of the total.
        """
        per_task = self.weighting.task_gradients
        with tf.GradientTape(persistent=per_task) as tape:
            outputs = self.model(features, training=True)
            weights = self.weighting.weights(self.global_step, self.epoch)
            total, losses = self.losses(labels, outputs, weights)
            task_losses = tf.stack([losses[t.name] for t in self.tasks])
            weighted = [weights[k] * task_losses[k] for k in range(len(self.tasks)) if per_task]
            scale = self.loss_scale.scale if self.loss_scale is not None else None
            target = total
            if scale is not None:  # float16: small gradients would flush to zero
                target = total * scale
                weighted = [w * scale for w in weighted]
        variables = self.embedding_vars + self.dense_vars
        shared = {id(v) for v in self.shared_vars}
        own = [v for v in variables if id(v) not in shared]
        grads = _unscale(tape.gradient(target, own), scale)
        task_grads = [
            [g if g is not None else tf.zeros_like(v) for g, v in zip(gs, self.shared_vars)]
            for gs in (_unscale(tape.gradient(w, self.shared_vars), scale) for w in weighted)
        ]
        if per_task and self.model.losses:
            extra = tape.gradient(tf.add_n(self.model.losses), self.shared_vars)
        flat = [tf.convert_to_tensor(g) for gs in task_grads for g in gs]
        bad = [tf.logical_not(tf.math.is_finite(losses[t.name])) for t in self.tasks]
        bad.append(tf.logical_not(tf.math.is_finite(tf.linalg.global_norm(grads + flat))))
        bad = tf.cast(tf.stack(bad), tf.float32)
        workers = self.cluster.num_workers
        mean_losses = task_losses
        if workers > 1:
            *reduced, mean_losses, bad = self.cluster.all_reduce([*grads, *flat, task_losses, bad])
            reduced = [_scale(g, 1.0 / workers) for g in reduced]
            grads, flat = reduced[: len(grads)], reduced[len(grads) :]
            mean_losses = mean_losses / workers
        grad_norms = tf.zeros([len(self.tasks)])
        if per_task:
            m = len(self.shared_vars)
            task_grads = [flat[k * m : (k + 1) * m] for k in range(len(self.tasks))]
            grad_norms = tf.stack([tf.linalg.global_norm(gs) for gs in task_grads])
            combined = self.weighting.combine(task_grads, self.global_step)
            if self.model.losses:
                combined = [c if e is None else c + e for c, e in zip(combined, extra)]
            by_var = dict(zip(map(id, own), grads)) | dict(zip(map(id, self.shared_vars), combined))
            grads = [by_var[id(v)] for v in variables]
        predictions = {name: outputs[name] for name in self.prediction_names}
        return Gradients(
            total, losses, grads, bad > 0, weights, mean_losses, grad_norms, predictions
        )

    def clip(self, grads: list) -> list:
        """Dense gradients clipped by global norm or by value (train_config.grad_clipping)."""
        if self.clipping_type == "norm":
            return tf.clip_by_global_norm(grads, self.max_gradient)[0]
        if self.clipping_type == "value":
            return [tf.clip_by_value(g, -self.max_gradient, self.max_gradient) for g in grads]
        return grads

    def check_finite(self, non_finite, step: int, last_checkpoint: str | None) -> None:
        """Judges a step whose update was withheld: a NaN/Inf loss (``non_finite[i]`` for
        task i) or gradient (``non_finite[-1]``). Logs a warning when such batches are
        skipped; else stops training.

        Args:
            non_finite: The step's [num tasks + 1] bools (numpy or a list).
            step: The step's number, for the message.
            last_checkpoint: The latest checkpoint saved, or None.

        Raises:
            EasymtlError: nan_loss_policy is not SKIP_BATCH.
        """
        what = [f"loss of tower {t.name!r}" for t, b in zip(self.tasks, non_finite) if b]
        what = ", ".join(what) or "gradient"
        if self.skip_non_finite:
            log.warning("step %d: %s is NaN or Inf; batch skipped (no update)", step, what)
            return
        checkpoint = (
            f"last good checkpoint {last_checkpoint}" if last_checkpoint else "no checkpoint saved"
        )
        raise EasymtlError(
            f"step {step}: {what} is NaN or Inf; training stopped with the update not applied "
            f"({checkpoint}). Check the input data, lower the learning rate, set "
            "train_config.grad_clipping, or set train_config.nan_loss_policy: SKIP_BATCH"
        )


def _scale(grad, factor: float):
    if grad is None:
        return None
    if isinstance(grad, tf.IndexedSlices):
        return tf.IndexedSlices(grad.values * factor, grad.indices, grad.dense_shape)
    return grad * factor


def _unscale(grads: list, scale) -> list:
    """`grads` divided by the loss scale (None: as they are)."""
    if scale is None:
        return grads
    return [_scale(g, 1.0 / scale) for g in grads]
