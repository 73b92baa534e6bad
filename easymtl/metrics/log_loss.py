"""log_loss and normalized_entropy: the binary cross entropy of a binary tower's
probabilities, plain or relative to the entropy of the label's base rate."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

_EPSILON = 1e-7


def _log_loss(y, p):
    """Per-row -(y log p + (1 - y) log(1 - p)) in float64, p clipped to [eps, 1 - eps]."""
    p = tf.clip_by_value(tf.cast(tf.reshape(p, [-1]), tf.float64), _EPSILON, 1.0 - _EPSILON)
    y = tf.cast(tf.reshape(y, [-1]), tf.float64)
    return -(y * tf.math.log(p) + (1.0 - y) * tf.math.log1p(-p))


@keras.saving.register_keras_serializable(package="easymtl")
class LogLoss(keras.metrics.Metric):
    """Mean log loss of the rows seen (each row counts once); probabilities are clipped
    to [1e-7, 1 - 1e-7]. Sums are kept in float64.

    Example:
        >>> loss = LogLoss()
        >>> loss.update_state([1, 0], [0.5, 0.5])
        >>> round(float(loss.result()), 4)  # log 2
        0.6931
    """

    def __init__(self, name: str = "log_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.loss_sum = self.add_variable((), "zeros", dtype="float64", name="loss_sum")
        self.positives = self.add_variable((), "zeros", dtype="float64", name="positives")
        self.count = self.add_variable((), "zeros", dtype="float64", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y = tf.cast(tf.cast(tf.reshape(y_true, [-1]), tf.float32) > 0.5, tf.float64)
        self.loss_sum.assign_add(tf.reduce_sum(_log_loss(y, y_pred)))
        self.positives.assign_add(tf.reduce_sum(y))
        self.count.assign_add(tf.cast(tf.size(y), tf.float64))

    def mean_loss(self):
        return tf.math.divide_no_nan(self.loss_sum.value, self.count.value)

    def result(self):
        return tf.cast(self.mean_loss(), tf.float32)


@keras.saving.register_keras_serializable(package="easymtl")
class NormalizedEntropy(LogLoss):
    """Normalized entropy (He et al., *Practical Lessons from Predicting Clicks on Ads at
    Facebook*, ADKDD 2014): the mean log loss divided by the entropy of the positive
    rate p of the rows seen, ``-(p log p + (1 - p) log(1 - p))``, i.e. by the log loss of
    always predicting p. 1 is no better than that; lower is better. Undefined (NaN,
    reported as null and ``n/a``) when every row has the same label: the entropy is 0.

    Example:
        >>> ne = NormalizedEntropy()
        >>> ne.update_state([1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25])
        >>> round(float(ne.result()), 4)  # predicting the base rate
        1.0
    """

    undefined_reason = "the evaluated labels hold only one class"

    def __init__(self, name: str = "normalized_entropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def result(self):
        rate = tf.math.divide_no_nan(self.positives.value, self.count.value)
        entropy = tf.reduce_sum(_log_loss([rate], [rate]))
        has_both = (rate > 0.0) & (rate < 1.0)
        ne = tf.where(has_both, tf.math.divide_no_nan(self.mean_loss(), entropy), math.nan)
        return tf.cast(ne, tf.float32)


def build_log_loss(config, name: str, num_class: int = 1) -> LogLoss:
    return LogLoss(name=name)


def build_normalized_entropy(config, name: str, num_class: int = 1) -> NormalizedEntropy:
    return NormalizedEntropy(name=name)
