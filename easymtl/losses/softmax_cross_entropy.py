"""softmax_cross_entropy: softmax cross entropy on a multiclass tower's logits."""

import tensorflow as tf


def softmax_cross_entropy(labels, logits, label_smoothing: float = 0.0):
    """Per-example cross entropy of logits [batch, num_class] against class ids [batch];
    with smoothing e, the one-hot target becomes ``onehot * (1 - e) + e / num_class``."""
    ids = tf.cast(labels, tf.int32)
    if not label_smoothing:
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ids, logits=logits)
    num_class = tf.shape(logits)[-1]
    target = tf.one_hot(ids, num_class, dtype=logits.dtype)
    target = target * (1.0 - label_smoothing) + label_smoothing / tf.cast(num_class, logits.dtype)
    return tf.nn.softmax_cross_entropy_with_logits(labels=target, logits=logits)


def build_softmax_cross_entropy(config):
    """The loss of a SoftmaxCrossEntropy message (checked by ``check_label_smoothing``)."""
    smoothing = config.label_smoothing
    return lambda labels, logits: softmax_cross_entropy(labels, logits, smoothing)
