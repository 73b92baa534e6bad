"""Blocks: the layers a multi-task model's expert or bottom may be (docs/models/blocks.md).

A block maps [batch, width] to [batch, units]. Its spec is a plain dict: ``{"kind":
<name>, **keyword arguments of its layer}``; a dict without "kind" is an MLP's keyword
arguments (as every expert_mlp and bottom_mlp was before blocks), so existing configs
of layers keep their meaning. The kinds equal the ``Block`` proto oneof's names
(easymtl/models/blocks.py reads the config side).
"""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.cin import CIN
from easymtl.layers.dcn import DCN, DCNV2
from easymtl.layers.dot_interaction import DotInteraction
from easymtl.layers.fm import FM
from easymtl.layers.masknet import MaskNet
from easymtl.layers.mlp import MLP
from easymtl.layers.wukong import WuKongLayer


@keras.saving.register_keras_serializable(package="easymtl")
class FieldBlock(keras.layers.Layer):
    """An interaction over fields, on a flat input: [batch, width] is read as width /
    field_dim fields of field_dim numbers, in order; the interaction's output is
    flattened.

    Args:
        field_dim: Width of one field.
        kind: "fm" (:class:`FM`), "cin" (:class:`CIN`), "dot_interaction"
            (:class:`DotInteraction`) or "wukong" (stacked :class:`WuKongLayer`).
        cin_layer_size: The CIN's layers (kind "cin").
        wukong_layers: Keyword arguments of each WuKong layer (kind "wukong").

    Example:
        >>> FieldBlock(4, "fm")(keras.ops.ones((2, 12))).shape
        (2, 4)
    """

    KINDS = ("fm", "cin", "dot_interaction", "wukong")

    def __init__(
        self,
        field_dim: int,
        kind: str,
        cin_layer_size: list[int] | None = None,
        wukong_layers: list[dict] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if field_dim <= 0:
            raise ValueError(f"`field_dim` must be positive. Received: {field_dim}")
        if kind not in self.KINDS:
            raise ValueError(f"`kind` must be one of {self.KINDS}. Received: {kind!r}")
        self.field_dim = int(field_dim)
        self.kind = kind
        self.cin_layer_size = list(cin_layer_size or [])
        self.wukong_layers = [dict(w) for w in wukong_layers or []]
        if kind == "fm":
            self.interactions = [FM(name="fm")]
        elif kind == "cin":
            self.interactions = [CIN(self.cin_layer_size, name="cin")]
        elif kind == "dot_interaction":
            self.interactions = [DotInteraction(name="dot_interaction")]
        else:
            if not self.wukong_layers:
                raise ValueError("`wukong_layers` must not be empty.")
            self.interactions = [
                WuKongLayer(**w, name=f"wukong_{i}") for i, w in enumerate(self.wukong_layers)
            ]

    def build(self, input_shape):
        width = input_shape[-1]
        if width % self.field_dim:
            raise ValueError(
                f"The input width {width} is not a multiple of `field_dim` {self.field_dim}: "
                "the features are not all embedded with embedding_dim = field_dim"
            )
        shape = (input_shape[0], width // self.field_dim, self.field_dim)
        for layer in self.interactions:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self._out = shape

    def call(self, inputs, training=None):
        x = ops.reshape(inputs, (-1, inputs.shape[-1] // self.field_dim, self.field_dim))
        for layer in self.interactions:
            x = layer(x, training=training) if isinstance(layer, WuKongLayer) else layer(x)
        return ops.reshape(x, (-1, _flat(x.shape)))

    def compute_output_shape(self, input_shape):
        if not self.built:
            self.build(input_shape)
        return (input_shape[0], _flat(self._out))

    def get_config(self):
        return {
            **super().get_config(),
            "field_dim": self.field_dim,
            "kind": self.kind,
            "cin_layer_size": self.cin_layer_size,
            "wukong_layers": self.wukong_layers,
        }


def _flat(shape) -> int:
    width = 1
    for d in shape[1:]:
        width *= d
    return width


# Block kind → layer class; the field kinds are FieldBlock's.
BLOCK_LAYERS = {"mlp": MLP, "mask_net": MaskNet, "dcn_v1": DCN, "dcn_v2": DCNV2}


def make_block(spec: dict, name: str) -> keras.layers.Layer:
    """The layer of a block spec (see the module docstring), named `name`.

    Raises:
        ValueError: an unknown kind, or a bad argument of its layer.
    """
    spec = dict(spec)
    kind = spec.pop("kind", "mlp")
    if kind in FieldBlock.KINDS:
        return FieldBlock(kind=kind, **spec, name=name)
    if kind not in BLOCK_LAYERS:
        raise ValueError(
            f"`kind` must be one of {sorted(BLOCK_LAYERS) + list(FieldBlock.KINDS)}. "
            f"Received: {kind!r}"
        )
    return BLOCK_LAYERS[kind](**spec, name=name)


def block_output_width(layer: keras.layers.Layer, input_width: int) -> int:
    """The width of `layer`'s output (a block's) on an input of `input_width`."""
    return int(layer.compute_output_shape((None, input_width))[-1])
