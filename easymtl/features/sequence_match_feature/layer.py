"""Sequence match features: how often and how recently the row's query value occurs in a
sequence → dense values."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.base import BuiltFeature, one_feature
from easymtl.features.sequence_items import sequence_items
from easymtl.features.sequence_match_feature import resolve


@keras.saving.register_keras_serializable(package="easymtl")
class SequenceMatchFeature(keras.layers.Layer):
    """Counts the items of a sequence cell equal to the row's query value.

    The sequence cell's items are split on `sequence_delim` (or read from a list column)
    and its first `sequence_length` kept, as a sequence feature reads them; an item
    matches where it equals the query cell (both as strings; an empty query matches
    nothing).

    Args:
        windows: Window lengths from the first (most recent) item.
        sequence_length: Most items kept per cell (the first ones).
        sequence_delim: Separator of the items of a string cell.

    Call takes ``[query, sequence]``: a [batch] column and a [batch] sequence column (or
    a [batch, longest list] list column). Returns [batch, len(windows) + 1] floats: for
    each window w, ``log(1 + matches among the first w items)``, then ``1 / (1 + t)``
    for the first matching position t, or 0 where none matches.

    Example:
        >>> f = SequenceMatchFeature([1, 3], 10, "|")
        >>> f([tf.constant(["a", "b", ""]), tf.constant(["b|a|a", "b", ""])]).numpy().round(3)
        array([[0.   , 1.099, 0.5  ],
               [0.693, 0.693, 1.   ],
               [0.   , 0.   , 0.   ]], dtype=float32)
    """

    def __init__(self, windows: list[int], sequence_length: int, sequence_delim: str = ";", **kw):
        super().__init__(**kw)
        windows = [int(w) for w in windows]
        if not windows or min(windows) <= 0:
            raise ValueError(f"`windows` must be positive ints, at least one. Received: {windows}")
        if sequence_length <= 0:
            raise ValueError(f"`sequence_length` must be positive. Received: {sequence_length}")
        if not sequence_delim:
            raise ValueError("`sequence_delim` must not be empty.")
        self.windows = windows
        self.sequence_length = int(sequence_length)
        self.sequence_delim = sequence_delim

    def call(self, inputs):
        query, sequence = inputs
        if query.dtype != tf.string:
            query = tf.strings.as_string(query)
        items = sequence_items(sequence, self.sequence_delim, self.sequence_length)
        if items.dtype != tf.string:
            items = tf.strings.as_string(items)
        query = tf.reshape(query, [-1])
        rows = tf.cast(items.value_rowids(), tf.int32)
        equal = tf.equal(items.flat_values, tf.gather(query, rows))
        equal &= tf.gather(query, rows) != ""
        matches = tf.cast(items.with_flat_values(equal).to_tensor(False), tf.float32)
        steps = tf.shape(matches)[1]
        position = tf.cast(tf.range(steps), tf.float32)[None, :]
        counts = [
            tf.reduce_sum(matches * tf.cast(position < w, tf.float32), axis=1) for w in self.windows
        ]
        first = tf.reduce_min(
            tf.where(matches > 0, position, tf.fill(tf.shape(matches), float("inf"))), axis=1
        )
        # No match (or no item): first is +inf, its recency 0.
        recency = tf.where(tf.math.is_inf(first), tf.zeros_like(first), 1.0 / (1.0 + first))
        return tf.stack([tf.math.log1p(c) for c in counts] + [recency], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], len(self.windows) + 1)

    def get_config(self):
        return {
            **super().get_config(),
            "windows": self.windows,
            "sequence_length": self.sequence_length,
            "sequence_delim": self.sequence_delim,
        }


def build_sequence_match_feature(f, feature_configs) -> list[BuiltFeature]:
    """The layer of a SequenceMatchFeature message (whose query and sequence are resolved
    in `feature_configs`), reading the query's and the sequence's columns; its values are
    dense."""
    column, entry = resolve(f, feature_configs)
    layer = SequenceMatchFeature(
        list(f.windows), entry.sequence_length, entry.sequence_delim, name=f.feature_name
    )
    return one_feature(f, layer, None, columns=[column, entry.column])
