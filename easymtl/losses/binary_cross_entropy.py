"""binary_cross_entropy: sigmoid cross entropy on a binary tower's logits."""

import tensorflow as tf


def binary_cross_entropy(labels, logits, label_smoothing: float = 0.0):
    """Per-example sigmoid cross entropy; labels in {0, 1} are smoothed towards 1/2."""
    labels = tf.cast(labels, logits.dtype)
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


def build_binary_cross_entropy(config):
    """The loss of a BinaryCrossEntropy message (checked by ``check_label_smoothing``)."""
    smoothing = config.label_smoothing
    return lambda labels, logits: binary_cross_entropy(labels, logits, smoothing)
