"""The items of a sequence cell: a ``sequence_delim``-joined string or a list column,
split, with its first ``sequence_length`` items kept."""

from __future__ import annotations

import tensorflow as tf


def sequence_items(x: tf.Tensor, delim: str, length: int | None = None) -> tf.RaggedTensor:
    """Ragged [batch, (items)] of the cells in `x`, at most `length` items each.

    A [batch] string column is split on `delim` (an empty cell has no items; an empty
    item between two delimiters stays, as ""). A [batch, longest list] list column keeps
    its values without the padding ("" strings, -1 integers, NaN floats). A number in a
    scalar column is one item. The first `length` items of a longer cell are kept.
    """
    if x.shape.rank == 2:
        if x.dtype == tf.string:
            keep = x != ""
        elif x.dtype.is_floating:
            keep = tf.logical_not(tf.math.is_nan(x))
        else:
            keep = x != -1
        items = tf.ragged.boolean_mask(x, keep)
    else:
        if x.dtype != tf.string:
            x = tf.strings.as_string(x)
        split = tf.strings.split(x, delim)
        # split("") is [""]: an empty cell is an empty sequence.
        full = x != ""
        items = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(split.flat_values, tf.repeat(full, split.row_lengths())),
            tf.where(full, split.row_lengths(), tf.zeros_like(split.row_lengths())),
            validate=False,
        )
    return items if length is None else items[:, :length]
