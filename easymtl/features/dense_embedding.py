"""Embeddings of dense values (a raw, expr, overlap, kv_dot_product or custom feature's
``mlp {}`` or ``autodis {}``), as TorchEasyRec's dense embedding collection computes
them: trainable layers applied to the feature's value inside the model."""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="easymtl")
class MLPEmbedding(keras.layers.Layer):
    """A dense value [batch, value_dim] times a learned [value_dim, dim] matrix (no bias,
    no activation): TorchEasyRec's MLPEmbedding.

    Args:
        dim: Embedding dimension.
        value_dim: Numbers per value.

    Example:
        >>> MLPEmbedding(4)(ops.ones((2, 1))).shape
        (2, 4)
    """

    def __init__(self, dim: int, value_dim: int = 1, **kwargs):
        super().__init__(**kwargs)
        if dim <= 0:
            raise ValueError(f"`dim` must be positive. Received: {dim}")
        if value_dim <= 0:
            raise ValueError(f"`value_dim` must be positive. Received: {value_dim}")
        self.dim = int(dim)
        self.value_dim = int(value_dim)

    def build(self, input_shape=None):
        # Glorot normal, as TorchEasyRec initialises it.
        std = math.sqrt(2.0 / (self.value_dim + self.dim))
        self.kernel = self.add_weight(
            shape=(self.value_dim, self.dim),
            initializer=keras.initializers.RandomNormal(stddev=std),
            name="kernel",
        )

    def call(self, x):
        return ops.matmul(ops.cast(x, self.compute_dtype), self.kernel)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "value_dim": self.value_dim}


@keras.saving.register_keras_serializable(package="easymtl")
class AutoDisEmbedding(keras.layers.Layer):
    """AutoDis (Guo et al., KDD 2021, arXiv:2012.08986) of one dense value, as
    TorchEasyRec computes it: the value's soft assignment to `num_channels` learned
    meta-embeddings.

    ``h = leaky_relu(x * w)`` ([channels]), ``h' = M h + keep_prob * h``,
    ``a = softmax(h' / temperature)``, and the output is ``a @ meta`` ([dim]).

    Args:
        dim: Embedding dimension.
        num_channels: Meta-embeddings.
        temperature: Softmax temperature.
        keep_prob: Weight of the skip connection.

    Example:
        >>> AutoDisEmbedding(4, num_channels=3)(ops.ones((2, 1))).shape
        (2, 4)
    """

    def __init__(
        self, dim: int, num_channels: int, temperature: float = 0.1, keep_prob: float = 0.8,
        **kwargs,
    ):  # fmt: skip
        super().__init__(**kwargs)
        if dim <= 0 or num_channels <= 0:
            raise ValueError(
                f"`dim` and `num_channels` must be positive. Received: {dim}, {num_channels}"
            )
        if not temperature > 0:
            raise ValueError(f"`temperature` must be positive. Received: {temperature}")
        self.dim = int(dim)
        self.num_channels = int(num_channels)
        self.temperature = float(temperature)
        self.keep_prob = float(keep_prob)

    def build(self, input_shape=None):
        c = self.num_channels
        normal = keras.initializers.RandomNormal
        self.meta = self.add_weight(
            shape=(c, self.dim), initializer=normal(stddev=1.0), name="meta_embeddings"
        )
        self.proj_w = self.add_weight(
            shape=(c,), initializer=normal(stddev=math.sqrt(2.0 / (1 + c))), name="proj_w"
        )
        self.proj_m = self.add_weight(
            shape=(c, c), initializer=normal(stddev=math.sqrt(1.0 / c)), name="proj_m"
        )

    def call(self, x):
        x = ops.cast(x, self.compute_dtype)  # [batch, 1]
        hidden = ops.leaky_relu(x * self.proj_w, negative_slope=0.01)  # [batch, c]
        mixed = ops.matmul(hidden, ops.transpose(self.proj_m)) + self.keep_prob * hidden
        weights = ops.softmax(mixed / self.temperature, axis=-1)
        return ops.matmul(weights, self.meta)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "num_channels": self.num_channels,
            "temperature": self.temperature,
            "keep_prob": self.keep_prob,
        }


def dense_embedding_layer(proto, value_dim: int = 1):
    """The dense embedding layer of a feature message's ``dense_emb`` oneof (``mlp`` or
    ``autodis``), named ``<feature_name>_<mlp|autodis>``, or None."""
    kind = proto.WhichOneof("dense_emb") if "dense_emb" in proto.DESCRIPTOR.oneofs_by_name else None
    if kind is None:
        return None
    name = f"{proto.feature_name}_{kind}"
    if kind == "mlp":
        return MLPEmbedding(proto.embedding_dim, value_dim, name=name)
    a = proto.autodis
    return AutoDisEmbedding(
        proto.embedding_dim, a.num_channels, a.temperature, a.keep_prob, name=name
    )
