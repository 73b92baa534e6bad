"""l2_loss: squared error of a regression tower's values."""

import tensorflow as tf


def l2_loss(labels, values):
    """Per-example ``(values - labels)^2``."""
    return tf.square(values - tf.cast(labels, values.dtype))


def build_l2_loss(config):
    return l2_loss
