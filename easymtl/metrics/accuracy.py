"""accuracy: share of correct predictions of a binary or multiclass tower."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="easymtl")
class Accuracy(keras.metrics.Mean):
    """Binary (`num_class` 1): a row is correct when ``probs > threshold`` equals its
    label; multiclass: when its label is among the `top_k` most probable classes.

    Example:
        >>> acc = Accuracy(num_class=1)
        >>> acc.update_state([1, 0, 1, 0], [0.9, 0.2, 0.3, 0.6])
        >>> float(acc.result())
        0.5
    """

    def __init__(
        self,
        num_class: int = 1,
        threshold: float = 0.5,
        top_k: int = 1,
        name: str = "accuracy",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if num_class < 1:
            raise ValueError(f"`num_class` must be positive. Received: {num_class}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"`threshold` must be in [0, 1]. Received: {threshold}")
        if num_class > 1 and not 1 <= top_k <= num_class:
            raise ValueError(f"`top_k` must be in [1, num_class]. Received: {top_k}")
        self.num_class = int(num_class)
        self.threshold = float(threshold)
        self.top_k = int(top_k)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.num_class == 1:
            predicted = tf.reshape(y_pred, [-1]) > self.threshold
            correct = tf.equal(predicted, tf.reshape(tf.cast(y_true, tf.float32), [-1]) > 0.5)
        else:
            probs = tf.reshape(tf.cast(y_pred, tf.float32), [-1, self.num_class])
            ids = tf.reshape(tf.cast(y_true, tf.int32), [-1])
            correct = tf.math.in_top_k(ids, probs, self.top_k)
        super().update_state(tf.cast(correct, tf.float32), sample_weight)

    def get_config(self):
        return {
            **super().get_config(),
            "num_class": self.num_class,
            "threshold": self.threshold,
            "top_k": self.top_k,
        }


def build_accuracy(config, name: str, num_class: int) -> Accuracy:
    return Accuracy(num_class, config.threshold, config.top_k, name=name)
