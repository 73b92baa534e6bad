"""Wide & Deep (Cheng et al., 2016), as TorchEasyRec computes it."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.mlp import MLP


@keras.saving.register_keras_serializable(package="easymtl")
class WideAndDeep(keras.layers.Layer):
    """``wide + Linear(deep(x_deep))``, or with `final`
    ``Linear(final([wide, deep(x_deep)]))``, where ``wide`` is the sum of the WIDE
    group's wide embeddings ([batch, 1]).

    Args:
        deep: Keyword arguments of the deep :class:`MLP`.
        num_class: Outputs.
        final: Keyword arguments of the final :class:`MLP`, or None.
        wide_group: The WIDE group read; deep_group: the DEEP group read.

    Call takes ``{group: tensor}`` and returns ``{"": [batch, num_class]}``.

    Example:
        >>> layer = WideAndDeep({"hidden_units": [4]}, 1)
        >>> layer({"wide": keras.ops.ones((2, 8)), "deep": keras.ops.ones((2, 3))})[""].shape
        (2, 1)
    """

    def __init__(
        self,
        deep: dict,
        num_class: int = 1,
        final: dict | None = None,
        wide_group: str = "wide",
        deep_group: str = "deep",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.deep_mlp = dict(deep)
        self.num_class = int(num_class)
        self.final_mlp = dict(final) if final else None
        self.wide_group = wide_group
        self.deep_group = deep_group
        self.deep = MLP(**self.deep_mlp, name="deep")
        self.final = MLP(**self.final_mlp, name="final") if final else None
        self.output_layer = keras.layers.Dense(self.num_class, name="output")

    def build(self, input_shape):
        shape = tuple(input_shape[self.deep_group])
        self.deep.build(shape)
        width = self.deep_mlp["hidden_units"][-1]
        if self.final is not None:
            self.final.build(shape[:-1] + (1 + width,))
            width = self.final_mlp["hidden_units"][-1]
        self.output_layer.build(shape[:-1] + (width,))

    def call(self, groups, training=None):
        wide = ops.sum(groups[self.wide_group], axis=-1, keepdims=True)
        deep = self.deep(groups[self.deep_group], training=training)
        if self.final is not None:
            return {
                "": self.output_layer(
                    self.final(ops.concatenate([wide, deep], -1), training=training)
                )
            }
        return {"": wide + self.output_layer(deep)}

    def get_config(self):
        return {
            **super().get_config(),
            "deep": self.deep_mlp,
            "num_class": self.num_class,
            "final": self.final_mlp,
            "wide_group": self.wide_group,
            "deep_group": self.deep_group,
        }
