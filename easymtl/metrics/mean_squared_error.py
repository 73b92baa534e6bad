"""mean_squared_error: mean of (y - label)^2 over the rows of a regression tower."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="easymtl")
class MeanSquaredError(keras.metrics.Mean):
    """Mean of ``(y_pred - y_true)^2`` over all rows seen (each row counts once).

    Example:
        >>> mse = MeanSquaredError()
        >>> mse.update_state([1.0, 2.0], [2.0, 4.0])
        >>> float(mse.result())
        2.5
    """

    def __init__(self, name: str = "mean_squared_error", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        error = tf.cast(y_pred, tf.float32) - tf.cast(y_true, tf.float32)
        super().update_state(tf.reshape(tf.square(error), [-1]), sample_weight)


def build_mean_squared_error(config, name: str, num_class: int = 1) -> MeanSquaredError:
    return MeanSquaredError(name=name)
