"""mean_absolute_error: mean of |y - label| over the rows of a regression tower."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="easymtl")
class MeanAbsoluteError(keras.metrics.Mean):
    """Mean of ``|y_pred - y_true|`` over all rows seen (each row counts once).

    Example:
        >>> mae = MeanAbsoluteError()
        >>> mae.update_state([1.0, 2.0], [2.0, 4.0])
        >>> float(mae.result())
        1.5
    """

    def __init__(self, name: str = "mean_absolute_error", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        error = tf.cast(y_pred, tf.float32) - tf.cast(y_true, tf.float32)
        super().update_state(tf.reshape(tf.abs(error), [-1]), sample_weight)


def build_mean_absolute_error(config, name: str, num_class: int = 1) -> MeanAbsoluteError:
    return MeanAbsoluteError(name=name)
