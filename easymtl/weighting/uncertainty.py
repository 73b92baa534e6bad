"""Uncertainty weighting (Kendall et al., CVPR 2018): learned task log-variances."""

from __future__ import annotations

import math

import tensorflow as tf

from easymtl.weighting.fixed import LossWeighting, by_tower, tower_variables


class UncertaintyWeighting(LossWeighting):
    """``total = sum_k exp(-s_k) × L_k + s_k`` with a learned ``s_k = log sigma_k^2``.

    This is twice Kendall et al.'s regression form ``exp(-s_k) × L_k / 2 + s_k / 2``:
    the same optimum ``s_k = log L_k``, so the effective weight ``exp(-s_k)`` tends to
    ``1 / L_k``. The s_k are trained by the dense optimizer with the model.

    Args:
        task_names: The tower names, in task order.
        weights: Starting weights (each > 0): ``s_k`` starts at ``-log(weight_k)``.

    Example:
        >>> u = UncertaintyWeighting(["ctr", "cvr"], [1.0, 0.5])
        >>> u.weights(None, None).numpy()  # [1, 0.5]
    """

    def __init__(self, task_names: list[str], weights: list[float]):
        super().__init__(task_names, weights)
        if not all(0 < w < math.inf for w in self.base_weights):
            raise ValueError(f"`weights` must be positive. Received: {self.base_weights}")
        self.log_variances = tower_variables(
            self.task_names,
            [-math.log(w) for w in self.base_weights],
            "log_variance",
            trainable=True,
        )

    @property
    def trainable_variables(self) -> list[tf.Variable]:
        return list(self.log_variances)

    def checkpoint_state(self) -> dict:
        return by_tower("log_variance", self.task_names, self.log_variances)

    def weights(self, step, epoch) -> tf.Tensor:
        del step, epoch
        return tf.exp(-tf.stack(self.log_variances))

    def total(self, losses: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        return super().total(losses, weights) + tf.add_n(self.log_variances)


def build_uncertainty(config, task_names, weights, where: str) -> UncertaintyWeighting:
    """The UncertaintyWeighting of a message checked by ``check_uncertainty``."""
    del config, where
    return UncertaintyWeighting(task_names, weights)
