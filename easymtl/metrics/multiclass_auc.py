"""multiclass_auc: one-vs-rest streaming ROC AUC of a multiclass tower, averaged."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from easymtl.metrics.auc import histogram_auc, logit_buckets

_AVERAGES = ("macro", "weighted")


@keras.saving.register_keras_serializable(package="easymtl")
class MulticlassAUC(keras.metrics.Metric):
    """Per class, the AUC of its probability against "label is this class", from
    histograms as :class:`~easymtl.metrics.auc.StreamingAUC` keeps them; then the mean
    over classes ("macro") or the mean weighted by each class's number of examples
    ("weighted"). A class without positives or without negatives among the evaluated
    rows (absent from the labels, or the only one there) has no AUC and is left out of
    the mean, as sklearn's one-vs-rest average would fail on it and 0 would be a false
    score; where no class has both, the result is NaN (reported as null and ``n/a``).

    Args:
        num_class: Number of classes.
        num_buckets: Histogram buckets per class.
        average: "macro" or "weighted".

    Example:
        >>> auc = MulticlassAUC(3, 100)
        >>> auc.update_state([0, 1, 2], [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]])
        >>> float(auc.result())
        1.0
    """

    undefined_reason = "no class has both positive and negative rows among the evaluated labels"

    def __init__(
        self,
        num_class: int,
        num_buckets: int = 200,
        average: str = "macro",
        name: str = "multiclass_auc",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if num_class < 2:
            raise ValueError(f"`num_class` must be at least 2. Received: {num_class}")
        if num_buckets < 2:
            raise ValueError(f"`num_buckets` must be at least 2. Received: {num_buckets}")
        if average not in _AVERAGES:
            raise ValueError(f"`average` must be one of {_AVERAGES}. Received: {average!r}")
        self.num_class = int(num_class)
        self.num_buckets = int(num_buckets)
        self.average = average
        shape = (self.num_class, self.num_buckets)
        self.positives = self.add_variable(shape, "zeros", name="positives")
        self.negatives = self.add_variable(shape, "zeros", name="negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ids = tf.reshape(tf.cast(y_true, tf.int32), [-1])
        probs = tf.reshape(tf.cast(y_pred, tf.float32), [-1, self.num_class])
        # Segment c * num_buckets + bucket: class c's histogram, flattened.
        segment = logit_buckets(probs, self.num_buckets) + self.num_buckets * tf.range(
            self.num_class
        )
        weight = (
            tf.ones_like(ids, tf.float32)
            if sample_weight is None
            else tf.reshape(tf.cast(sample_weight, tf.float32), [-1])
        )
        weight = tf.broadcast_to(weight[:, None], tf.shape(probs))
        positive = tf.one_hot(ids, self.num_class, on_value=True, off_value=False)
        size = self.num_class * self.num_buckets
        for variable, mask in ((self.positives, positive), (self.negatives, ~positive)):
            counts = tf.math.unsorted_segment_sum(tf.where(mask, weight, 0.0), segment, size)
            variable.assign_add(tf.reshape(counts, variable.shape))

    def result(self):
        pos = tf.convert_to_tensor(self.positives)
        neg = tf.convert_to_tensor(self.negatives)
        support = tf.reduce_sum(pos, axis=-1)
        present = tf.logical_and(support > 0, tf.reduce_sum(neg, axis=-1) > 0)
        weight = support if self.average == "weighted" else tf.ones_like(support)
        weight = tf.where(present, weight, 0.0)
        auc = tf.where(present, histogram_auc(pos, neg), 0.0)
        total = tf.reduce_sum(weight)
        return tf.where(
            total > 0, tf.math.divide_no_nan(tf.reduce_sum(weight * auc), total), math.nan
        )

    def reset_state(self):
        for variable in (self.positives, self.negatives):
            variable.assign(tf.zeros_like(variable))

    def get_config(self):
        return {
            **super().get_config(),
            "num_class": self.num_class,
            "num_buckets": self.num_buckets,
            "average": self.average,
        }


def build_multiclass_auc(config, name: str, num_class: int) -> MulticlassAUC:
    return MulticlassAUC(num_class, config.thresholds, config.average, name=name)
