"""Dynamic loss scaling for float16 (train_config.grad_scaler; TorchEasyRec's GradScaler,
torch's ``GradScaler`` update rule).

float16 keeps 5 exponent bits: small gradients of a float16 computation flush to zero.
The train step multiplies the loss by the scale before it takes the gradients and
divides them by it after (:meth:`TrainStep.gradients`). A step whose unscaled gradients
are not finite while every loss is finite has overflowed: its update is skipped, not
judged as a NaN step, and the scale shrinks; after `growth_interval` steps without an
overflow it grows.
"""

from __future__ import annotations

import tensorflow as tf


class LossScale:
    """The scale and its update rule.

    Args:
        init_scale: The first scale.
        growth_factor: What the scale is multiplied by after `growth_interval` steps
            without an overflow.
        backoff_factor: What it is multiplied by at an overflow.
        growth_interval: Steps without an overflow before it grows.
    """

    def __init__(
        self,
        init_scale: float = 65536.0,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
    ):
        if init_scale <= 0 or growth_factor < 1 or not 0 < backoff_factor < 1:
            raise ValueError(
                "`init_scale` must be positive, `growth_factor` at least 1 and "
                f"`backoff_factor` in (0, 1). Received: {init_scale}, {growth_factor}, "
                f"{backoff_factor}"
            )
        self.growth_factor = growth_factor
        self.backoff_factor = backoff_factor
        self.growth_interval = max(int(growth_interval), 1)
        self.scale = tf.Variable(float(init_scale), trainable=False, name="loss_scale")
        self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="good_steps")

    @classmethod
    def from_config(cls, grad_scaler) -> LossScale:
        """From a GradScaler message (its defaults where unset)."""
        return cls(
            grad_scaler.init_scale,
            grad_scaler.growth_factor,
            grad_scaler.backoff_factor,
            grad_scaler.growth_interval,
        )

    def update(self, non_finite: tf.Tensor) -> tf.Tensor:
        """Judges a step's [num tasks + 1] non-finite flags (losses, then gradients) and
        updates the scale; returns the flags without an overflow (which the caller has
        skipped: it is no NaN step).

        An overflow (gradients not finite, every loss finite) shrinks the scale and
        restarts the count; any other step counts towards growth.
        """
        losses_bad = tf.reduce_any(non_finite[:-1])
        overflow = tf.logical_and(non_finite[-1], tf.logical_not(losses_bad))
        good = tf.where(overflow, tf.constant(0, tf.int64), self.good_steps + 1)
        grow = good >= self.growth_interval
        factor = tf.where(overflow, self.backoff_factor, tf.where(grow, self.growth_factor, 1.0))
        self.scale.assign(self.scale * factor)
        self.good_steps.assign(tf.where(grow, tf.constant(0, tf.int64), good))
        flags = tf.concat([non_finite[:-1], tf.logical_and(non_finite[-1:], losses_bad)], 0)
        return flags
