"""Dynamic Weight Average (Liu et al., CVPR 2019): weights from recent loss ratios."""

from __future__ import annotations

import math

import tensorflow as tf

from easymtl.weighting.fixed import LossWeighting, assign, by_tower, tower_variables


class DynamicWeightAverage(LossWeighting):
    """``w_k = weight_k × K × softmax_k(r_k / T)``, ``r_k`` the ratio of task k's mean
    loss over the last complete window of steps to its mean over the window before.

    Until two windows are complete the weights are the towers' weights. The running
    window and the two last window means are checkpointed.

    Args:
        task_names: The tower names, in task order.
        weights: Each tower's weight, a constant factor of its DWA weight.
        temperature: T > 0; larger makes the weights more equal.
        window_steps: Steps per window (> 0).

    Example:
        >>> dwa = DynamicWeightAverage(["ctr", "cvr"], [1.0, 1.0], window_steps=1)
        >>> for losses in ([1.0, 1.0], [0.5, 1.0]):
        ...     dwa.update(tf.constant(losses), None)
        >>> dwa.weights(None, None).numpy()  # 2 * softmax([0.25, 0.5]): cvr falls slower
    """

    def __init__(
        self,
        task_names: list[str],
        weights: list[float],
        temperature: float = 2.0,
        window_steps: int = 100,
    ):
        super().__init__(task_names, weights)
        if not 0 < temperature < math.inf:
            raise ValueError(f"`temperature` must be positive. Received: {temperature}")
        if window_steps <= 0:
            raise ValueError(f"`window_steps` must be positive. Received: {window_steps}")
        self.temperature = float(temperature)
        self.window_steps = int(window_steps)
        zeros = [0.0] * self.num_tasks
        self.window_sum = tower_variables(self.task_names, zeros, "dwa_window_sum")
        self.last = tower_variables(self.task_names, zeros, "dwa_last")
        self.before = tower_variables(self.task_names, zeros, "dwa_before")
        self.window_count = tf.Variable(0, dtype=tf.int64, trainable=False, name="dwa_count")
        self.windows_done = tf.Variable(0, dtype=tf.int64, trainable=False, name="dwa_done")

    def checkpoint_state(self) -> dict:
        return {
            **by_tower("dwa_window_sum", self.task_names, self.window_sum),
            **by_tower("dwa_last", self.task_names, self.last),
            **by_tower("dwa_before", self.task_names, self.before),
            "dwa_window_count": self.window_count,
            "dwa_windows_done": self.windows_done,
        }

    def weights(self, step, epoch) -> tf.Tensor:
        del step, epoch
        base = tf.constant(self.base_weights, tf.float32)
        ratio = tf.math.divide_no_nan(tf.stack(self.last), tf.stack(self.before))
        dwa = self.num_tasks * tf.nn.softmax(ratio / self.temperature)
        return base * tf.where(self.windows_done >= 2, dwa, tf.ones_like(dwa))

    def update(self, losses: tf.Tensor, grad_norms) -> None:
        del grad_norms
        window_sum = tf.stack(self.window_sum) + losses
        count = self.window_count + 1
        full = count >= self.window_steps
        mean = window_sum / tf.cast(count, tf.float32)
        assign(self.before, tf.where(full, tf.stack(self.last), tf.stack(self.before)))
        assign(self.last, tf.where(full, mean, tf.stack(self.last)))
        assign(self.window_sum, tf.where(full, tf.zeros_like(window_sum), window_sum))
        self.window_count.assign(tf.where(full, tf.constant(0, tf.int64), count))
        self.windows_done.assign_add(tf.cast(full, tf.int64))


def build_dwa(config, task_names, weights, where: str) -> DynamicWeightAverage:
    del where  # option errors are ValueErrors, named by the caller
    return DynamicWeightAverage(task_names, weights, config.temperature, config.window_steps)
