"""Sum or mean pooling of a behaviour sequence."""

from __future__ import annotations

import keras
from keras import ops

POOLING_TYPES = ("sum", "mean")


@keras.saving.register_keras_serializable(package="easymtl")
class PoolingEncoder(keras.layers.Layer):
    """The sum, or the mean, of the valid positions of a sequence (the query is not read;
    it is an argument so that every encoder is called alike). A row with no valid
    position gives zeros.

    Args:
        pooling_type: "sum" or "mean".

    Call args:
        query: [batch, q] (unused).
        sequence: [batch, T, d].
        mask: [batch, T] bool, True at valid positions.

    Returns:
        [batch, d].

    Example:
        >>> pool = PoolingEncoder("mean")
        >>> pool(None, ops.ones((2, 5, 3)), ops.ones((2, 5), "bool")).shape
        (2, 3)
    """

    def __init__(self, pooling_type: str = "mean", **kwargs):
        super().__init__(**kwargs)
        if pooling_type not in POOLING_TYPES:
            raise ValueError(
                f"`pooling_type` must be one of {POOLING_TYPES}. Received: {pooling_type!r}"
            )
        self.pooling_type = pooling_type

    def call(self, query, sequence, mask):
        weights = ops.cast(mask, sequence.dtype)
        pooled = ops.sum(weights[:, :, None] * sequence, axis=1)
        if self.pooling_type == "mean":
            pooled = pooled / ops.maximum(ops.sum(weights, axis=1, keepdims=True), 1.0)
        return pooled

    def compute_output_shape(self, query_shape, sequence_shape, mask_shape=None):
        return (sequence_shape[0], sequence_shape[-1])

    def get_config(self):
        return {**super().get_config(), "pooling_type": self.pooling_type}
