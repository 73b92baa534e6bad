"""DCN's and DCN-V2's networks under their output: the bodies of the dcn_v1 and dcn_v2
rankers, and blocks of any multi-task model (docs/models/dcn_v2.md)."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.cross import Cross, CrossV2
from easymtl.layers.mlp import MLP


@keras.saving.register_keras_serializable(package="easymtl")
class DCN(keras.layers.Layer):
    """``final([Cross(x), deep(x)])`` (Wang et al., ADKDD 2017).

    Args:
        cross_num: Layers of the :class:`Cross` network.
        deep: Keyword arguments of the deep :class:`MLP`.
        final: Keyword arguments of the final :class:`MLP`.

    Call takes [batch, d] and returns [batch, final's last units].

    Example:
        >>> DCN(2, {"hidden_units": [4]}, {"hidden_units": [3]})(keras.ops.ones((2, 5))).shape
        (2, 3)
    """

    def __init__(self, cross_num: int, deep: dict, final: dict, **kwargs):
        super().__init__(**kwargs)
        self.cross_num = int(cross_num)
        self.deep_mlp = dict(deep)
        self.final_mlp = dict(final)
        self.cross = Cross(self.cross_num, name="cross")
        self.deep = MLP(**self.deep_mlp, name="deep")
        self.final = MLP(**self.final_mlp, name="final")

    def build(self, input_shape):
        shape = tuple(input_shape)
        self.cross.build(shape)
        self.deep.build(shape)
        self.final.build(shape[:-1] + (shape[-1] + self.deep_mlp["hidden_units"][-1],))

    def call(self, inputs, training=None):
        x = ops.concatenate([self.cross(inputs), self.deep(inputs, training=training)], axis=-1)
        return self.final(x, training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.final_mlp["hidden_units"][-1],)

    def get_config(self):
        return {
            **super().get_config(),
            "cross_num": self.cross_num,
            "deep": self.deep_mlp,
            "final": self.final_mlp,
        }


@keras.saving.register_keras_serializable(package="easymtl")
class DCNV2(keras.layers.Layer):
    """``final([CrossV2(backbone(x)), deep(x)])`` (Wang et al., WWW 2021): without
    `deep`, the stacked form ``final(CrossV2(backbone(x)))``; without `backbone`, the
    cross network reads x.

    Args:
        cross_num: Layers of the :class:`CrossV2` network.
        low_rank: Rank of each cross layer's matrix.
        final: Keyword arguments of the final :class:`MLP`.
        backbone: Keyword arguments of the :class:`MLP` under the cross network, or None.
        deep: Keyword arguments of the deep :class:`MLP` beside it, or None.

    Call takes [batch, d] and returns [batch, final's last units].

    Example:
        >>> DCNV2(2, 4, {"hidden_units": [3]})(keras.ops.ones((2, 5))).shape
        (2, 3)
    """

    def __init__(
        self,
        cross_num: int,
        low_rank: int,
        final: dict,
        backbone: dict | None = None,
        deep: dict | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.cross_num = int(cross_num)
        self.low_rank = int(low_rank)
        self.final_mlp = dict(final)
        self.backbone_mlp = dict(backbone) if backbone else None
        self.deep_mlp = dict(deep) if deep else None
        self.backbone = MLP(**self.backbone_mlp, name="backbone") if backbone else None
        self.cross = CrossV2(self.cross_num, self.low_rank, name="cross")
        self.deep = MLP(**self.deep_mlp, name="deep") if deep else None
        self.final = MLP(**self.final_mlp, name="final")

    def build(self, input_shape):
        shape = tuple(input_shape)
        crossed = shape
        if self.backbone is not None:
            self.backbone.build(shape)
            crossed = self.backbone.compute_output_shape(shape)
        self.cross.build(crossed)
        width = crossed[-1]
        if self.deep is not None:
            self.deep.build(shape)
            width += self.deep_mlp["hidden_units"][-1]
        self.final.build(shape[:-1] + (width,))

    def call(self, inputs, training=None):
        x = self.backbone(inputs, training=training) if self.backbone is not None else inputs
        x = self.cross(x)
        if self.deep is not None:
            x = ops.concatenate([x, self.deep(inputs, training=training)], axis=-1)
        return self.final(x, training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.final_mlp["hidden_units"][-1],)

    def get_config(self):
        return {
            **super().get_config(),
            "cross_num": self.cross_num,
            "low_rank": self.low_rank,
            "final": self.final_mlp,
            "backbone": self.backbone_mlp,
            "deep": self.deep_mlp,
        }
