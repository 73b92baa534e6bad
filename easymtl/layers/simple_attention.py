"""Dot-product attention of a query over a behaviour sequence."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.sequence_common import check_dims, masked_softmax, pad_query, weighted_sum


@keras.saving.register_keras_serializable(package="easymtl")
class SimpleAttention(keras.layers.Layer):
    """Position t scores ``q · s_t``; the output is ``Σ_t softmax(q · s)_t s_t`` over the
    valid positions, as TorchEasyRec's ``SimpleAttention`` computes it. No weights. A
    query narrower than the sequence is padded with zeros; a row with no valid position
    gives zeros.

    Call args:
        query: [batch, q] with q ≤ d.
        sequence: [batch, T, d].
        mask: [batch, T] bool, True at valid positions.

    Returns:
        [batch, d].

    Example:
        >>> att = SimpleAttention()
        >>> att(ops.ones((2, 3)), ops.ones((2, 5, 3)), ops.ones((2, 5), "bool")).shape
        (2, 3)
    """

    def build(self, query_shape, sequence_shape, mask_shape=None):
        check_dims("SimpleAttention", query_shape[-1], sequence_shape[-1])

    def call(self, query, sequence, mask):
        q = pad_query(query, sequence.shape[-1])
        scores = ops.sum(sequence * q[:, None, :], axis=-1)
        return weighted_sum(masked_softmax(scores, mask), sequence)

    def compute_output_shape(self, query_shape, sequence_shape, mask_shape=None):
        return (query_shape[0], sequence_shape[-1])
