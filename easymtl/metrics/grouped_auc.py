"""grouped_auc: GAUC, the AUC within each group of rows (e.g. a user's), averaged."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from easymtl.metrics.auc import logit_buckets

_AVERAGES = ("weighted", "macro")


@keras.saving.register_keras_serializable(package="easymtl")
class GroupedAUC(keras.metrics.Metric):
    """Per group (rows sharing a value of the grouping column), the ROC AUC of the
    predictions; then their mean over groups, weighted by the groups' numbers of rows
    ("weighted", GAUC as Zhou et al., KDD 2018 define it) or plain ("macro"). Groups
    with only positives or only negatives have no AUC and are left out; where no group
    has both, GAUC is undefined and the result NaN (reported as null and ``n/a``).

    Streaming and bounded: each group keeps histograms of its positive and negative
    predictions, bucketed as :class:`~easymtl.metrics.auc.StreamingAUC` buckets them
    (pairs within a bucket count as half), in a hash table keyed by (group, bucket). It
    holds at most one entry per distinct (group, bucket) pair seen: never more than the
    number of rows, nor than groups x `num_buckets`. Group values are told apart exactly
    (a second table numbers them as they first appear).

    Args:
        grouping_key: The input column naming each row's group; ``update_state`` takes
            its values after the predictions (the metric's ``input_columns``).
        num_buckets: Histogram buckets per group.
        average: "weighted" or "macro".

    Example:
        >>> gauc = GroupedAUC("user_id", 100)
        >>> gauc.update_state([1, 0, 1, 0, 1], [0.9, 0.2, 0.3, 0.6, 0.5],
        ...                   ["a", "a", "b", "b", "c"])
        >>> float(gauc.result())  # a: 1.0, b: 0.0 (2 rows each); c has no negative
        0.5
    """

    undefined_reason = "no group holds both a positive and a negative label"

    def __init__(
        self,
        grouping_key: str,
        num_buckets: int = 10000,
        average: str = "macro",
        name: str = "grouped_auc",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if not grouping_key:
            raise ValueError("`grouping_key` must name an input column. Received: ''")
        if num_buckets < 2:
            raise ValueError(f"`num_buckets` must be at least 2. Received: {num_buckets}")
        if average not in _AVERAGES:
            raise ValueError(f"`average` must be one of {_AVERAGES}. Received: {average!r}")
        self.grouping_key = grouping_key
        self.input_columns = (grouping_key,)
        self.num_buckets = int(num_buckets)
        self.average = average
        # group value -> group number, 0, 1, ... in order of first appearance
        self._group_ids = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, -1)
        # group number x num_buckets + bucket -> [positives, negatives]
        self._counts = tf.lookup.experimental.MutableHashTable(
            tf.int64, tf.float32, tf.zeros([2], tf.float32)
        )
        self.num_groups = self.add_variable((), "zeros", dtype="int64", name="num_groups")

    def update_state(self, y_true, y_pred, groups):
        y = tf.reshape(tf.cast(y_true, tf.float32), [-1])
        groups = tf.reshape(groups, [-1])
        if groups.dtype != tf.string:
            groups = tf.strings.as_string(groups)
        values, index = tf.unique(groups)
        ids = tf.reshape(self._group_ids.lookup(values), [-1])
        new = ids < 0
        first_id = tf.convert_to_tensor(self.num_groups.value)
        ids = tf.where(new, first_id + tf.cumsum(tf.cast(new, tf.int64)) - 1, ids)
        self._group_ids.insert(tf.boolean_mask(values, new), tf.boolean_mask(ids, new))
        self.num_groups.assign_add(tf.reduce_sum(tf.cast(new, tf.int64)))

        bucket = tf.cast(logit_buckets(tf.reshape(y_pred, [-1]), self.num_buckets), tf.int64)
        keys, key_index = tf.unique(tf.gather(ids, index) * self.num_buckets + bucket)
        positive = tf.cast(y > 0.5, tf.float32)
        counts = tf.math.unsorted_segment_sum(
            tf.stack([positive, 1.0 - positive], axis=1), key_index, tf.size(keys)
        )
        self._counts.insert(keys, tf.reshape(self._counts.lookup(keys), [-1, 2]) + counts)

    def result(self):
        keys, counts = self._counts.export()
        order = tf.argsort(keys)
        keys = tf.gather(keys, order)
        counts = tf.cast(tf.gather(counts, order), tf.float64)
        # Sorted by key, so each group's buckets are consecutive and ascending.
        _, segment = tf.unique(keys // self.num_buckets)
        pos, neg = counts[:, 0], counts[:, 1]
        negatives_before = tf.cumsum(neg, exclusive=True)
        # Negatives in lower buckets of the same group: the running count since the
        # group's first bucket.
        below = negatives_before - tf.gather(
            tf.math.segment_min(negatives_before, segment), segment
        )
        wins = tf.math.segment_sum(pos * below + 0.5 * pos * neg, segment)
        positives = tf.math.segment_sum(pos, segment)
        negatives = tf.math.segment_sum(neg, segment)
        has_auc = (positives > 0) & (negatives > 0)
        auc = tf.math.divide_no_nan(wins, positives * negatives)
        weight = positives + negatives if self.average == "weighted" else tf.ones_like(auc)
        weight = tf.where(has_auc, weight, 0.0)
        total = tf.reduce_sum(weight)
        gauc = tf.where(
            total > 0, tf.math.divide_no_nan(tf.reduce_sum(weight * auc), total), math.nan
        )
        return tf.cast(gauc, tf.float32)

    def reset_state(self):
        self._group_ids.remove(self._group_ids.export()[0])
        self._counts.remove(self._counts.export()[0])
        self.num_groups.assign(0)

    def get_config(self):
        return {
            **super().get_config(),
            "grouping_key": self.grouping_key,
            "num_buckets": self.num_buckets,
            "average": self.average,
        }


def build_grouped_auc(config, name: str, num_class: int = 1) -> GroupedAUC:
    return GroupedAUC(config.grouping_key, config.thresholds, config.average, name=name)
