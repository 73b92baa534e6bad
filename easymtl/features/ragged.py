"""Ragged tensors made from their value row ids in 9 traced operations, where
TensorFlow's ``from_value_rowids`` takes 22, and the positions a mask keeps."""

from __future__ import annotations

import tensorflow as tf
from tensorflow.python.ops.ragged import row_partition


def from_value_rowids(values, value_rowids, nrows) -> tf.RaggedTensor:
    """``tf.RaggedTensor.from_value_rowids(values, value_rowids, nrows, validate=False)``:
    `values` [n, ...] in `nrows` rows, value i in row ``value_rowids[i]`` (int64, sorted).

    The ragged tensor holds the row ids it is made from (the embedding lookup's segment
    sum reads them) and its row splits. TensorFlow derives the splits through
    ``tf.math.bincount``'s wrapper, 22 traced operations for every id feature in every
    traced function (train step, eval step, serving), where the bincount kernel itself
    and a cumulative sum take 9; the row partition is then made by its constructor,
    which TensorFlow keeps private (pyproject.toml bounds the TensorFlow version;
    tests/features/test_ragged.py checks both ways agree on the versions it is run on).
    """
    value_rowids = tf.convert_to_tensor(value_rowids, tf.int64)
    nrows = tf.convert_to_tensor(nrows, tf.int64)
    # As TensorFlow's own: the bincount of int32 ids into int64 counts.
    lengths = tf.raw_ops.DenseBincount(
        input=tf.cast(value_rowids, tf.int32),
        size=tf.cast(nrows, tf.int32),
        weights=tf.zeros([0], tf.int64),
    )
    splits = tf.concat([tf.zeros([1], tf.int64), tf.cumsum(lengths)], axis=0)
    partition = row_partition.RowPartition(
        row_splits=splits,
        row_lengths=lengths,
        value_rowids=value_rowids,
        nrows=nrows,
        internal=row_partition._row_partition_factory_key,
    )
    return tf.RaggedTensor._from_row_partition(values, partition, validate=False)


def kept_rows(values, value_rowids, keep, nrows) -> tf.RaggedTensor:
    """:func:`from_value_rowids` of the values (and their row ids) where `keep` holds."""
    kept = true_positions(keep)
    return from_value_rowids(tf.gather(values, kept), tf.gather(value_rowids, kept), nrows)


def true_positions(keep: tf.Tensor) -> tf.Tensor:
    """The positions where the 1-D `keep` holds, [n] (``tf.where(keep)[:, 0]`` in half
    the traced operations)."""
    return tf.reshape(tf.where(keep), [-1])
