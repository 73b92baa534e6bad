"""Dynamic decay (PLE, Tang et al., RecSys 2020): ``w_k(t) = weight_k × gamma_k ** t``."""

from __future__ import annotations

import math

import tensorflow as tf

from easymtl.protos import loss_weighting_pb2
from easymtl.weighting.fixed import LossWeighting


class DynamicDecay(LossWeighting):
    """Each weight decays (or grows) geometrically from the tower's weight.

    Args:
        task_names: The tower names, in task order.
        weights: Each tower's starting weight ``omega_k,0``.
        gammas: Each tower's rate ``gamma_k > 0`` per unit of t (1: constant).
        by_epoch: t counts completed epochs; else steps (0 at the first step).

    Example:
        >>> decay = DynamicDecay(["ctr", "cvr"], [1.0, 1.0], [1.0, 0.9], by_epoch=False)
        >>> decay.weights(tf.constant(2, tf.int64), None).numpy()  # [1, 0.81]
    """

    def __init__(
        self,
        task_names: list[str],
        weights: list[float],
        gammas: list[float],
        by_epoch: bool = True,
    ):
        super().__init__(task_names, weights)
        if len(gammas) != self.num_tasks or not all(0 < g < math.inf for g in gammas):
            raise ValueError(
                f"`gammas` must be {self.num_tasks} positive numbers. Received: {gammas}"
            )
        self.gammas = [float(g) for g in gammas]
        self.by_epoch = by_epoch

    def weights(self, step, epoch) -> tf.Tensor:
        t = tf.cast(epoch if self.by_epoch else step, tf.float64)
        decayed = tf.constant(self.base_weights, tf.float64) * tf.pow(
            tf.constant(self.gammas, tf.float64), t
        )
        return tf.cast(decayed, tf.float32)


def build_dynamic_decay(config, task_names, weights, where: str) -> DynamicDecay:
    """The DynamicDecay of a message checked by ``check_dynamic_decay``."""
    del where
    gammas = dict.fromkeys(task_names, 1.0)
    gammas.update((decay.tower_name, decay.gamma) for decay in config.tower_decay)
    return DynamicDecay(
        task_names,
        weights,
        [gammas[t] for t in task_names],
        by_epoch=config.unit == loss_weighting_pb2.DynamicDecay.EPOCH,
    )
