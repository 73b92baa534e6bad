"""Fixed loss weights (no `loss_weighting` block), and the interface every strategy has."""

from __future__ import annotations

import tensorflow as tf


class LossWeighting:
    """Combines the task losses with each tower's fixed weight: ``sum_k weight_k × L_k``.

    The base of the strategies. The runner, each train step:

    1. reads :meth:`weights` (inside its gradient tape) and :meth:`total`;
    2. where :attr:`task_gradients` is set, takes each task's gradient of
       ``w_k × L_k`` on the shared dense variables and lets :meth:`combine` turn them
       into one gradient (other variables get the gradient of the total);
    3. after an applied update, calls :meth:`update` with the task losses and the norms
       of those task gradients, averaged over the workers.

    Args:
        task_names: The tower names, in task order.
        weights: Each tower's `weight`, in task order.
    """

    #: Whether the train step needs per-task gradients of the shared variables.
    task_gradients = False

    def __init__(self, task_names: list[str], weights: list[float]):
        if len(task_names) != len(weights):
            raise ValueError(
                f"`weights` must have one value per task ({len(task_names)}). "
                f"Received: {len(weights)}"
            )
        self.task_names = list(task_names)
        self.base_weights = [float(w) for w in weights]

    @property
    def num_tasks(self) -> int:
        return len(self.task_names)

    @property
    def trainable_variables(self) -> list[tf.Variable]:
        """Variables the dense optimizer trains with the model (gradients of the total)."""
        return []

    def checkpoint_state(self) -> dict:
        """The trackable state to checkpoint, by a name that holds the tower name."""
        return {}

    def weights(self, step: tf.Variable, epoch: tf.Variable) -> tf.Tensor:
        """The [num tasks] weights of the step; `step` counts from 0 at the first step,
        `epoch` the completed epochs."""
        del step, epoch
        return tf.constant(self.base_weights, tf.float32)

    def total(self, losses: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        """The training loss from the [num tasks] task losses and weights."""
        return tf.add_n([weights[k] * losses[k] for k in range(self.num_tasks)])

    def combine(self, task_grads: list[list[tf.Tensor]], step: tf.Variable) -> list[tf.Tensor]:
        """One gradient per shared variable from each task's gradients of them (plain
        sum here)."""
        del step
        return [tf.add_n(list(gs)) for gs in zip(*task_grads)]

    def update(self, losses: tf.Tensor, grad_norms: tf.Tensor) -> None:
        """Advances the strategy's state after an applied step, from the [num tasks]
        task losses and the norms of the weighted task gradients of the shared
        variables (zeros where :attr:`task_gradients` is not set)."""
        del losses, grad_norms


def tower_variables(
    task_names: list[str], values: list[float], name: str, trainable: bool = False
) -> list[tf.Variable]:
    """One scalar float32 variable per tower (state checkpointed by tower name, so that
    reordering the towers keeps a checkpoint valid)."""
    return [
        tf.Variable(float(v), trainable=trainable, name=f"{name}_{t}")
        for t, v in zip(task_names, values)
    ]


def by_tower(prefix: str, task_names: list[str], variables: list) -> dict:
    """``{"<prefix>/<tower>": variable}`` for :meth:`LossWeighting.checkpoint_state`."""
    return {f"{prefix}/{t}": v for t, v in zip(task_names, variables)}


def assign(variables: list[tf.Variable], values: tf.Tensor) -> None:
    """Assigns the [len(variables)] `values` to the scalar `variables`."""
    for k, v in enumerate(variables):
        v.assign(values[k])
