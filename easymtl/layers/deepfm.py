"""DeepFM (Guo et al., IJCAI 2017), as TorchEasyRec computes it."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.fm import FM
from easymtl.layers.mlp import MLP


@keras.saving.register_keras_serializable(package="easymtl")
class DeepFM(keras.layers.Layer):
    """``wide + sum(FM(fields)) + Linear(deep(x_deep))``, or with `final`
    ``Linear(final([wide, FM(fields), deep(x_deep)]))``: ``wide`` is the sum of the WIDE
    group's wide embeddings ([batch, 1]); the fields are the FM group's embeddings
    ([batch, fields x field_dim] read as fields).

    Args:
        deep: Keyword arguments of the deep :class:`MLP`.
        field_dim: The FM group's embedding_dim.
        num_class: Outputs.
        final: Keyword arguments of the final :class:`MLP`, or None.
        fm_group: The FM group ("fm", else TorchEasyRec reads "deep").
        wide_group, deep_group: The WIDE and DEEP groups read.

    Call takes ``{group: tensor}`` and returns ``{"": [batch, num_class]}``.

    Example:
        >>> layer = DeepFM({"hidden_units": [4]}, field_dim=2)
        >>> layer({"wide": keras.ops.ones((2, 8)), "deep": keras.ops.ones((2, 6))})[""].shape
        (2, 1)
    """

    def __init__(
        self,
        deep: dict,
        field_dim: int,
        num_class: int = 1,
        final: dict | None = None,
        fm_group: str = "deep",
        wide_group: str = "wide",
        deep_group: str = "deep",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if field_dim <= 0:
            raise ValueError(f"`field_dim` must be positive. Received: {field_dim}")
        self.deep_mlp = dict(deep)
        self.field_dim = int(field_dim)
        self.num_class = int(num_class)
        self.final_mlp = dict(final) if final else None
        self.fm_group = fm_group
        self.wide_group = wide_group
        self.deep_group = deep_group
        self.fm = FM(name="fm")
        self.deep = MLP(**self.deep_mlp, name="deep")
        self.final = MLP(**self.final_mlp, name="final") if final else None
        self.output_layer = keras.layers.Dense(self.num_class, name="output")

    def build(self, input_shape):
        shape = tuple(input_shape[self.deep_group])
        if input_shape[self.fm_group][-1] % self.field_dim:
            raise ValueError(
                f"The {self.fm_group!r} group's width {input_shape[self.fm_group][-1]} is not "
                f"a multiple of `field_dim` {self.field_dim}"
            )
        self.deep.build(shape)
        width = self.deep_mlp["hidden_units"][-1]
        if self.final is not None:
            self.final.build(shape[:-1] + (1 + self.field_dim + width,))
            width = self.final_mlp["hidden_units"][-1]
        self.output_layer.build(shape[:-1] + (width,))

    def call(self, groups, training=None):
        wide = ops.sum(groups[self.wide_group], axis=-1, keepdims=True)
        deep = self.deep(groups[self.deep_group], training=training)
        x = groups[self.fm_group]
        fm = self.fm(ops.reshape(x, (-1, x.shape[-1] // self.field_dim, self.field_dim)))
        if self.final is not None:
            joined = ops.concatenate([wide, fm, deep], axis=-1)
            return {"": self.output_layer(self.final(joined, training=training))}
        return {"": wide + ops.sum(fm, axis=-1, keepdims=True) + self.output_layer(deep)}

    def get_config(self):
        return {
            **super().get_config(),
            "deep": self.deep_mlp,
            "field_dim": self.field_dim,
            "num_class": self.num_class,
            "final": self.final_mlp,
            "fm_group": self.fm_group,
            "wide_group": self.wide_group,
            "deep_group": self.deep_group,
        }
