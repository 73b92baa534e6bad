"""huber_loss: Huber loss of a regression tower's values (robust to outlying targets)."""

import tensorflow as tf


def huber_loss(labels, values, delta: float = 1.0):
    """Per-example ``0.5 d^2`` for ``|d| <= delta``, else ``delta (|d| - delta / 2)``,
    where ``d = values - labels``."""
    error = tf.abs(values - tf.cast(labels, values.dtype))
    quadratic = tf.minimum(error, delta)
    return 0.5 * tf.square(quadratic) + delta * (error - quadratic)


def build_huber_loss(config):
    """The loss of a HuberLoss message (checked by ``check_delta``)."""
    delta = config.delta
    return lambda labels, values: huber_loss(labels, values, delta)
