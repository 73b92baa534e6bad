"""GradNorm (Chen et al., ICML 2018): weights that balance the tasks' gradient norms."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from easymtl.weighting.fixed import LossWeighting, assign, by_tower, tower_variables

# Weights are floored here before renormalising, so that none turns negative.
MIN_WEIGHT = 1e-3


class GradNorm(LossWeighting):
    """Learned task weights ``w_k`` that sum to K (the number of tasks).

    After each step, with ``G_k`` the norm of task k's gradient of ``w_k × L_k`` on the
    shared dense variables and ``r_k = (L_k / L_k(0)) / mean_j(L_j / L_j(0))`` its
    relative inverse training rate (``L_k(0)`` the loss of the first step), the weights
    take an Adam step on ``sum_k |G_k - mean(G) × r_k ** alpha|`` (the target held
    constant), then are floored at 1e-3 and renormalised to sum to K. A task whose loss
    falls more slowly (larger ``r_k``) gains weight.

    Args:
        task_names: The tower names, in task order.
        weights: Starting weights (each > 0), renormalised to sum to K.
        alpha: The asymmetry ``alpha >= 0``.
        learning_rate: The learning rate of the weights' Adam optimizer.

    Example:
        >>> gn = GradNorm(["ctr", "cvr"], [1.0, 1.0])
        >>> gn.update(tf.constant([1.0, 1.0]), tf.constant([1.0, 1.0]))  # L(0)
        >>> gn.update(tf.constant([0.5, 0.9]), tf.constant([1.0, 1.0]))
        >>> gn.weights(None, None).numpy()  # cvr (slower) above 1, ctr below; sum 2
    """

    task_gradients = True

    def __init__(
        self,
        task_names: list[str],
        weights: list[float],
        alpha: float = 1.5,
        learning_rate: float = 0.025,
    ):
        super().__init__(task_names, weights)
        if not all(0 < w < math.inf for w in self.base_weights):
            raise ValueError(f"`weights` must be positive. Received: {self.base_weights}")
        if not 0 <= alpha < math.inf:
            raise ValueError(f"`alpha` must be >= 0. Received: {alpha}")
        if not 0 < learning_rate < math.inf:
            raise ValueError(f"`lr` must be positive. Received: {learning_rate}")
        self.alpha = float(alpha)
        scale = self.num_tasks / sum(self.base_weights)
        self.task_weights = tower_variables(
            self.task_names, [w * scale for w in self.base_weights], "grad_norm_weight"
        )
        self.initial_losses = tower_variables(
            self.task_names, [0.0] * self.num_tasks, "grad_norm_initial_loss"
        )
        self.started = tf.Variable(False, trainable=False, name="grad_norm_started")
        self.optimizer = keras.optimizers.Adam(learning_rate, name="grad_norm_adam")
        self.optimizer.build(self.task_weights)

    def checkpoint_state(self) -> dict:
        return {
            **by_tower("grad_norm_weight", self.task_names, self.task_weights),
            **by_tower("grad_norm_initial_loss", self.task_names, self.initial_losses),
            "grad_norm_started": self.started,
            "grad_norm_optimizer": self.optimizer,
        }

    def weights(self, step, epoch) -> tf.Tensor:
        del step, epoch
        return tf.stop_gradient(tf.stack(self.task_weights))

    def update(self, losses: tf.Tensor, grad_norms: tf.Tensor) -> None:
        initial = tf.where(self.started, tf.stack(self.initial_losses), losses)
        assign(self.initial_losses, initial)
        self.started.assign(True)
        w = tf.stack(self.task_weights)
        rate = tf.math.divide_no_nan(losses, initial)
        rate = tf.math.divide_no_nan(rate, tf.reduce_mean(rate))
        target = tf.reduce_mean(grad_norms) * tf.pow(rate, self.alpha)
        # d|G_k - target_k| / dw_k, with G_k = w_k × ||grad L_k|| and the target constant.
        grads = tf.sign(grad_norms - target) * tf.math.divide_no_nan(grad_norms, w)
        self.optimizer.apply(tf.unstack(grads), self.task_weights)
        w = tf.maximum(tf.stack(self.task_weights), MIN_WEIGHT)
        assign(self.task_weights, w * (self.num_tasks / tf.reduce_sum(w)))


def build_grad_norm(config, task_names, weights, where: str) -> GradNorm:
    """The GradNorm of a message checked by ``check_grad_norm``."""
    del where
    return GradNorm(task_names, weights, config.alpha, config.lr)
