"""The factorization machine's second-order term (Rendle, ICDM 2010), as DeepFM uses it."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="easymtl")
class FM(keras.layers.Layer):
    """``0.5 * ((sum_i v_i)^2 - sum_i v_i^2)`` over the fields ``v_i``: the pairwise
    interactions ``sum_{i<j} v_i * v_j``, element-wise, in O(fields).

    Call takes [batch, fields, dim] and returns [batch, dim] (summed over dim it is the
    FM's second-order logit term).

    Example:
        >>> FM()(keras.ops.ones((2, 3, 4))).shape  # 3 pairs of ones
        (2, 4)
    """

    def call(self, inputs):
        total = ops.sum(inputs, axis=1)
        return 0.5 * (total * total - ops.sum(inputs * inputs, axis=1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
