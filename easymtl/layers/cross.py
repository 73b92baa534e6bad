"""The cross networks of DCN (Wang et al., ADKDD 2017) and DCN-V2 (Wang et al., WWW 2021)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="easymtl")
class Cross(keras.layers.Layer):
    """DCN's cross network: ``x_{l+1} = x_0 * (x_l . w_l) + b_l + x_l`` for each of
    `cross_num` layers, with a weight vector ``w_l`` and a bias ``b_l`` per layer.

    keras-rs's FeatureCross without projection_dim learns a full matrix per layer (the
    DCN-V2 form), not DCN's vector, so this is written here.

    Args:
        cross_num: Number of cross layers.

    Call takes [batch, d] and returns [batch, d].

    Example:
        >>> Cross(2)(keras.ops.ones((2, 4))).shape
        (2, 4)
    """

    def __init__(self, cross_num: int = 3, **kwargs):
        super().__init__(**kwargs)
        if cross_num <= 0:
            raise ValueError(f"`cross_num` must be positive. Received: {cross_num}")
        self.cross_num = int(cross_num)

    def build(self, input_shape):
        d = input_shape[-1]
        self.kernels = [
            self.add_weight(shape=(d, 1), initializer="glorot_uniform", name=f"kernel_{i}")
            for i in range(self.cross_num)
        ]
        self.biases = [
            self.add_weight(shape=(d,), initializer="zeros", name=f"bias_{i}")
            for i in range(self.cross_num)
        ]

    def call(self, inputs):
        x = inputs
        for kernel, bias in zip(self.kernels, self.biases):
            x = ops.matmul(x, kernel) * inputs + bias + x
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "cross_num": self.cross_num}


@keras.saving.register_keras_serializable(package="easymtl")
class CrossV2(keras.layers.Layer):
    """DCN-V2's low-rank cross network: ``x_{l+1} = x_0 * (V_l (U_l x_l) + b_l) + x_l``
    for each of `cross_num` layers (U_l: d x low_rank, without bias; V_l: low_rank x d,
    with bias b_l).

    The same computation as ``keras_rs.layers.FeatureCross(projection_dim=low_rank)``
    stacked (tests/layers/test_interaction.py checks it equal); written here because
    keras-rs needs Python 3.11 and easymtl supports 3.10, and measured as fast.

    Args:
        cross_num: Number of cross layers.
        low_rank: Rank of each layer's matrix.

    Call takes [batch, d] and returns [batch, d].

    Example:
        >>> CrossV2(2, low_rank=2)(keras.ops.ones((2, 4))).shape
        (2, 4)
    """

    def __init__(self, cross_num: int = 3, low_rank: int = 32, **kwargs):
        super().__init__(**kwargs)
        if cross_num <= 0:
            raise ValueError(f"`cross_num` must be positive. Received: {cross_num}")
        if low_rank <= 0:
            raise ValueError(f"`low_rank` must be positive. Received: {low_rank}")
        self.cross_num = int(cross_num)
        self.low_rank = int(low_rank)

    def build(self, input_shape):
        d = input_shape[-1]
        self.down = [
            keras.layers.Dense(self.low_rank, use_bias=False, name=f"u_{i}")
            for i in range(self.cross_num)
        ]
        self.up = [keras.layers.Dense(d, name=f"v_{i}") for i in range(self.cross_num)]
        for down, up in zip(self.down, self.up):
            down.build(tuple(input_shape))
            up.build(tuple(input_shape)[:-1] + (self.low_rank,))

    def call(self, inputs):
        x = inputs
        for down, up in zip(self.down, self.up):
            x = inputs * up(down(x)) + x
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "cross_num": self.cross_num, "low_rank": self.low_rank}
