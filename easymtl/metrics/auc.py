"""auc: streaming ROC AUC of a binary tower's probabilities."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

_LOGIT_RANGE = 10.0
_LOG_SCORE_RANGE = 50.0


@keras.saving.register_keras_serializable(package="easymtl")
class StreamingAUC(keras.metrics.Metric):
    """ROC AUC from histograms of positive and negative predictions.

    Predictions are bucketed evenly in logit space over [-10, 10] (probabilities from
    4.5e-5 to 1 - 4.5e-5; beyond, the end buckets), which resolves the small
    probabilities of sparse tasks (CVR) that thresholds evenly spaced in probability
    lump together. AUC is the Mann-Whitney statistic over buckets, pairs within a bucket
    counted as half. The histograms add up across batches and workers. Without both a
    positive and a negative row AUC is undefined: the result is NaN, which the runner
    reports as null and ``n/a`` with a warning.

    Args:
        num_buckets: Number of histogram buckets (TorchEasyRec's `thresholds`).
        class_index: For a two-class multiclass tower, the class whose probability
            scores the rows (1: TorchEasyRec's probs1); None for a binary tower.

    Example:
        >>> auc = StreamingAUC(1000)
        >>> auc.update_state([0, 1, 1], [0.1, 0.8, 0.4])
        >>> float(auc.result())
        1.0
    """

    undefined_reason = "the evaluated labels hold only one class"

    def __init__(
        self, num_buckets: int = 200, name: str = "auc", class_index: int | None = None, **kwargs
    ):
        super().__init__(name=name, **kwargs)
        if num_buckets < 2:
            raise ValueError(f"`num_buckets` must be at least 2. Received: {num_buckets}")
        self.num_buckets = int(num_buckets)
        self.class_index = class_index
        self.positives = self.add_variable((self.num_buckets,), "zeros", name="positives")
        self.negatives = self.add_variable((self.num_buckets,), "zeros", name="negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.reshape(tf.cast(y_true, tf.float32), [-1])
        if self.class_index is not None:
            y_pred = y_pred[:, self.class_index]
            y_true = tf.cast(tf.equal(y_true, float(self.class_index)), tf.float32)
        bucket = self.buckets(tf.reshape(y_pred, [-1]))
        weight = (
            tf.ones_like(y_true)
            if sample_weight is None
            else tf.reshape(tf.cast(sample_weight, tf.float32), [-1])
        )
        positive = y_true > 0.5
        for variable, mask in ((self.positives, positive), (self.negatives, ~positive)):
            counts = tf.math.unsorted_segment_sum(
                tf.where(mask, weight, 0.0), bucket, self.num_buckets
            )
            variable.assign_add(counts)

    def buckets(self, y_pred):
        """The histogram bucket of each prediction."""
        return logit_buckets(y_pred, self.num_buckets)

    def result(self):
        return histogram_auc(self.positives, self.negatives)

    def reset_state(self):
        for variable in (self.positives, self.negatives):
            variable.assign(tf.zeros_like(variable))

    def get_config(self):
        return {
            **super().get_config(),
            "num_buckets": self.num_buckets,
            "class_index": self.class_index,
        }


@keras.saving.register_keras_serializable(package="easymtl")
class ScoreAUC(StreamingAUC):
    """ROC AUC of positive scores of any scale (a fused ranking score), from histograms
    as :class:`StreamingAUC` keeps them, but bucketed evenly in log(score) over [-50, 50]
    (the end buckets taking what lies beyond; scores <= 0 go to the lowest bucket).

    Example:
        >>> auc = ScoreAUC(1000)
        >>> auc.update_state([0, 1, 1], [0.5, 40.0, 3.0])
        >>> float(auc.result())
        1.0
    """

    def buckets(self, y_pred):
        log_score = tf.math.log(tf.maximum(tf.cast(y_pred, tf.float32), 1e-38))
        return linear_buckets(log_score, -_LOG_SCORE_RANGE, _LOG_SCORE_RANGE, self.num_buckets)


def logit_buckets(probs, num_buckets: int):
    """The histogram bucket of each probability: buckets evenly spaced in logit space
    over [-10, 10], the end buckets taking what lies beyond."""
    p = tf.clip_by_value(tf.cast(probs, tf.float32), 1e-7, 1 - 1e-7)
    logit = tf.math.log(p) - tf.math.log1p(-p)
    return linear_buckets(logit, -_LOGIT_RANGE, _LOGIT_RANGE, num_buckets)


def linear_buckets(values, low: float, high: float, num_buckets: int):
    """The bucket of each value among `num_buckets` even buckets over [low, high], the
    end buckets taking what lies beyond."""
    scaled = (values - low) / (high - low) * num_buckets
    return tf.clip_by_value(tf.cast(tf.floor(scaled), tf.int32), 0, num_buckets - 1)


def histogram_auc(positives, negatives):
    """AUC from histograms [..., num_buckets] of positives and negatives (pairs within a
    bucket counted as half); NaN where a class is missing (AUC is undefined there)."""
    pos = tf.convert_to_tensor(positives)
    neg = tf.convert_to_tensor(negatives)
    below = tf.cumsum(neg, axis=-1, exclusive=True)
    wins = tf.reduce_sum(pos * below + 0.5 * pos * neg, axis=-1)
    pairs = tf.reduce_sum(pos, axis=-1) * tf.reduce_sum(neg, axis=-1)
    return tf.where(pairs > 0, tf.math.divide_no_nan(wins, pairs), math.nan)


def build_auc(config, name: str, num_class: int = 1) -> StreamingAUC:
    # A two-class tower (softmax_cross_entropy, num_class 2) is scored by its class-1
    # probability, as TorchEasyRec's auc reads probs1.
    class_index = 1 if num_class == 2 else None
    return StreamingAUC(num_buckets=config.thresholds, name=name, class_index=class_index)
