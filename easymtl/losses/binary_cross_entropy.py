"""binary_cross_entropy: sigmoid cross entropy on a binary tower's logits."""

import tensorflow as tf

from easymtl.losses import BINARY, register_loss


def binary_cross_entropy(labels, logits, label_smoothing: float = 0.0):
    """Per-example sigmoid cross entropy; labels in {0, 1} are smoothed towards 1/2."""
    labels = tf.cast(labels, logits.dtype)
    if label_smoothing:
        labels = labels * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


@register_loss("binary_cross_entropy", BINARY)
def build_binary_cross_entropy(config):
    smoothing = config.label_smoothing
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"`label_smoothing` must be in [0, 1). Received: {smoothing}")
    return lambda labels, logits: binary_cross_entropy(labels, logits, smoothing)
