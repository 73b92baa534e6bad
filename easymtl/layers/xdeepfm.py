"""xDeepFM (Lian et al., KDD 2018), as TorchEasyRec computes it."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.cin import CIN
from easymtl.layers.mlp import MLP


@keras.saving.register_keras_serializable(package="easymtl")
class XDeepFM(keras.layers.Layer):
    """``Linear(final([CIN(wide fields), deep(x_deep)]))``: the CIN reads the WIDE
    group's wide embeddings (each `field_dim` wide) as fields.

    Args:
        cin_layer_size: The CIN's layers.
        deep: Keyword arguments of the deep :class:`MLP`.
        final: Keyword arguments of the final :class:`MLP`.
        field_dim: Width of each wide embedding (wide_embedding_dim).
        num_class: Outputs.
        wide_group, deep_group: The groups read.

    Call takes ``{group: tensor}`` and returns ``{"": [batch, num_class]}``.

    Example:
        >>> layer = XDeepFM([3], {"hidden_units": [4]}, {"hidden_units": [2]}, field_dim=2)
        >>> layer({"wide": keras.ops.ones((2, 6)), "deep": keras.ops.ones((2, 5))})[""].shape
        (2, 1)
    """

    def __init__(
        self,
        cin_layer_size: list[int],
        deep: dict,
        final: dict,
        field_dim: int,
        num_class: int = 1,
        wide_group: str = "wide",
        deep_group: str = "deep",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if field_dim <= 0:
            raise ValueError(f"`field_dim` must be positive. Received: {field_dim}")
        self.cin_layer_size = [int(s) for s in cin_layer_size]
        self.deep_mlp = dict(deep)
        self.final_mlp = dict(final)
        self.field_dim = int(field_dim)
        self.num_class = int(num_class)
        self.wide_group = wide_group
        self.deep_group = deep_group
        self.cin = CIN(self.cin_layer_size, name="cin")
        self.deep = MLP(**self.deep_mlp, name="deep")
        self.final = MLP(**self.final_mlp, name="final")
        self.output_layer = keras.layers.Dense(self.num_class, name="output")

    def build(self, input_shape):
        fields = input_shape[self.wide_group][-1] // self.field_dim
        self.cin.build((None, fields, self.field_dim))
        self.deep.build(tuple(input_shape[self.deep_group]))
        self.final.build((None, sum(self.cin_layer_size) + self.deep_mlp["hidden_units"][-1]))
        self.output_layer.build((None, self.final_mlp["hidden_units"][-1]))

    def call(self, groups, training=None):
        wide = groups[self.wide_group]
        cin = self.cin(ops.reshape(wide, (-1, wide.shape[-1] // self.field_dim, self.field_dim)))
        deep = self.deep(groups[self.deep_group], training=training)
        x = self.final(ops.concatenate([cin, deep], axis=-1), training=training)
        return {"": self.output_layer(x)}

    def get_config(self):
        return {
            **super().get_config(),
            "cin_layer_size": self.cin_layer_size,
            "deep": self.deep_mlp,
            "final": self.final_mlp,
            "field_dim": self.field_dim,
            "num_class": self.num_class,
            "wide_group": self.wide_group,
            "deep_group": self.deep_group,
        }
