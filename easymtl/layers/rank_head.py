"""A ranker made of one block on one feature group, under a linear output: the bodies
of dcn_v1, dcn_v2 and mask_net (and of any block, see layers/blocks.py)."""

from __future__ import annotations

import keras

from easymtl.layers.blocks import make_block


@keras.saving.register_keras_serializable(package="easymtl")
class BlockRanker(keras.layers.Layer):
    """``Dense(num_class)(block(groups[group]))``: one feature group through a block
    (:func:`easymtl.layers.blocks.make_block`) under a linear output.

    Args:
        group: The feature group read.
        block: The block's spec (``{"kind": ..., **its arguments}``).
        num_class: Outputs of the linear layer.
        use_bias: Bias in the linear output (TorchEasyRec's DCN, DCN-V2 and MaskNet have
            none).

    Call takes ``{group: [batch, width], ...}`` and returns ``{"": [batch, num_class]}``.

    Example:
        >>> ranker = BlockRanker("all", {"kind": "mlp", "hidden_units": [4]}, 1)
        >>> ranker({"all": keras.ops.ones((2, 3))})[""].shape
        (2, 1)
    """

    def __init__(
        self, group: str, block: dict, num_class: int = 1, use_bias: bool = True, **kwargs
    ):
        super().__init__(**kwargs)
        if num_class <= 0:
            raise ValueError(f"`num_class` must be positive. Received: {num_class}")
        self.group = group
        self.block_spec = dict(block)
        self.num_class = int(num_class)
        self.use_bias = bool(use_bias)
        self.body = make_block(self.block_spec, name=self.block_spec.get("kind", "mlp"))
        self.output_layer = keras.layers.Dense(
            self.num_class, use_bias=self.use_bias, name="output"
        )

    def build(self, input_shape):
        shape = tuple(input_shape[self.group])
        self.body.build(shape)
        self.output_layer.build(self.body.compute_output_shape(shape))

    def call(self, groups, training=None):
        return {"": self.output_layer(self.body(groups[self.group], training=training))}

    def get_config(self):
        return {
            **super().get_config(),
            "group": self.group,
            "block": self.block_spec,
            "num_class": self.num_class,
            "use_bias": self.use_bias,
        }
