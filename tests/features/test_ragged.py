"""features/ragged.py: TensorFlow's ragged tensor from value row ids, in fewer traced
operations (its row partition made by TensorFlow's private constructor: this test is
what tells a TensorFlow upgrade that broke it)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from easymtl.features.ragged import from_value_rowids

CASES = [
    ([1, 2, 3, 4], [0, 0, 2, 3], 5),  # empty rows between and after
    ([], [], 3),  # no values
    ([], [], 0),  # no rows
    ([7], [0], 1),
]


@pytest.mark.parametrize(("values", "rowids", "nrows"), CASES)
def test_it_is_tensorflows_ragged_tensor(values, rowids, nrows):
    values, rowids = tf.constant(values, tf.int64), tf.constant(rowids, tf.int64)
    got = from_value_rowids(values, rowids, nrows)
    want = tf.RaggedTensor.from_value_rowids(values, rowids, nrows=nrows)
    assert got.to_list() == want.to_list()
    np.testing.assert_array_equal(got.row_splits, want.row_splits)
    for part in ("row_lengths", "value_rowids", "nrows"):
        np.testing.assert_array_equal(getattr(got, part)(), getattr(want, part)())


def test_nested_values_and_a_traced_lookup():
    inner = from_value_rowids(tf.constant([5, 6, 7], tf.int64), tf.constant([0, 2, 2], tf.int64), 3)
    outer = from_value_rowids(inner, tf.constant([1, 1, 1], tf.int64), 2)
    assert outer.to_list() == [[], [[5], [], [6, 7]]]

    def pooled(make):
        def fn(values, rowids, nrows):
            x = make(values, rowids, nrows)
            # What a lookup reads: the row ids and the number of rows it was made from.
            return tf.math.unsorted_segment_sum(x.values, x.value_rowids(), x.nrows())

        spec = [tf.TensorSpec([None], tf.int64)] * 2 + [tf.TensorSpec([], tf.int64)]
        return tf.function(fn).get_concrete_function(*spec)

    ours = pooled(from_value_rowids)
    theirs = pooled(lambda v, r, n: tf.RaggedTensor.from_value_rowids(v, r, n, validate=False))
    args = [tf.constant([1, 1, 1], tf.int64), tf.constant([0, 2, 2], tf.int64)]
    np.testing.assert_array_equal(ours(*args, tf.constant(4, tf.int64)), [1, 0, 2, 0])
    ops = [len(f.graph.get_operations()) for f in (ours, theirs)]
    assert ops[0] <= ops[1] - 10, ops
