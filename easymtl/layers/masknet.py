"""MaskNet's instance-guided masks (Wang et al., DLP-KDD 2021)."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.mlp import MLP


@keras.saving.register_keras_serializable(package="easymtl")
class MaskBlock(keras.layers.Layer):
    """One MaskBlock: a mask ``Dense(input width)(relu(Dense(aggregation_dim)(m)))`` of
    the mask input ``m`` (the feature embeddings) multiplies the block's input; then
    Dense(hidden_dim), LayerNorm and ReLU.

    Args:
        hidden_dim: Output units.
        reduction_ratio: aggregation_dim = int(input width x reduction_ratio); 0 to use
            `aggregation_dim` instead.
        aggregation_dim: Width of the mask MLP's hidden layer, where reduction_ratio is 0.

    Call takes ``(inputs [batch, d], mask_input [batch, m])`` and returns [batch,
    hidden_dim].

    Example:
        >>> x = keras.ops.ones((2, 4))
        >>> MaskBlock(3)((x, x)).shape
        (2, 3)
    """

    def __init__(
        self, hidden_dim: int, reduction_ratio: float = 1.0, aggregation_dim: int = 0, **kwargs
    ):
        super().__init__(**kwargs)
        if hidden_dim <= 0:
            raise ValueError(f"`hidden_dim` must be positive. Received: {hidden_dim}")
        if not reduction_ratio and not aggregation_dim:
            raise ValueError(
                "`reduction_ratio` or `aggregation_dim` must be positive. "
                f"Received: {reduction_ratio} and {aggregation_dim}"
            )
        if reduction_ratio < 0:
            raise ValueError(f"`reduction_ratio` must not be negative. Received: {reduction_ratio}")
        self.hidden_dim = int(hidden_dim)
        self.reduction_ratio = float(reduction_ratio)
        self.aggregation_dim = int(aggregation_dim)

    def build(self, input_shape):
        shape, mask_shape = (tuple(s) for s in input_shape)
        d = shape[-1]
        # TorchEasyRec's rule: reduction_ratio, where set, wins over aggregation_dim.
        width = int(d * self.reduction_ratio) if self.reduction_ratio else self.aggregation_dim
        if width <= 0:
            raise ValueError(
                f"The mask's aggregation width must be positive. Received: {width} "
                f"(input width {d} x reduction_ratio {self.reduction_ratio})"
            )
        self.aggregation = keras.layers.Dense(width, activation="relu", name="aggregation")
        self.projection = keras.layers.Dense(d, name="projection")
        self.hidden = keras.layers.Dense(self.hidden_dim, name="hidden")
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, name="ln")
        self.aggregation.build(mask_shape)
        self.projection.build(mask_shape[:-1] + (width,))
        self.hidden.build(shape)
        self.norm.build(shape[:-1] + (self.hidden_dim,))

    def call(self, inputs):
        x, mask_input = inputs
        mask = self.projection(self.aggregation(mask_input))
        return ops.relu(self.norm(self.hidden(x * mask)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])[:-1] + (self.hidden_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "reduction_ratio": self.reduction_ratio,
            "aggregation_dim": self.aggregation_dim,
        }


@keras.saving.register_keras_serializable(package="easymtl")
class MaskNet(keras.layers.Layer):
    """MaskNet's module: LayerNorm of the feature embeddings ``e``, then `n_mask_blocks`
    MaskBlocks with mask input ``e`` (parallel: each on LayerNorm(e), concatenated;
    serial: the first on LayerNorm(e), each next on the previous block's output), then an
    optional MLP.

    Args:
        n_mask_blocks: Number of MaskBlocks.
        mask_block: Keyword arguments of each :class:`MaskBlock`.
        top_mlp: Keyword arguments of the :class:`MLP` on top, or None.
        use_parallel: Parallel (ParaMaskNet) or serial (SerMaskNet) blocks.

    Call takes [batch, d] and returns [batch, top_mlp's last units] (without top_mlp:
    n_mask_blocks x hidden_dim in parallel, hidden_dim in serial).

    Example:
        >>> MaskNet(2, {"hidden_dim": 4}, {"hidden_units": [3]})(keras.ops.ones((2, 6))).shape
        (2, 3)
    """

    def __init__(
        self,
        n_mask_blocks: int,
        mask_block: dict,
        top_mlp: dict | None = None,
        use_parallel: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if n_mask_blocks <= 0:
            raise ValueError(f"`n_mask_blocks` must be positive. Received: {n_mask_blocks}")
        self.n_mask_blocks = int(n_mask_blocks)
        self.mask_block = dict(mask_block)
        self.top_mlp = dict(top_mlp) if top_mlp else None
        self.use_parallel = bool(use_parallel)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, name="ln_emb")
        self.blocks = [
            MaskBlock(**self.mask_block, name=f"mask_block_{i}") for i in range(self.n_mask_blocks)
        ]
        self.top = MLP(**self.top_mlp, name="top_mlp") if self.top_mlp else None

    def build(self, input_shape):
        shape = tuple(input_shape)
        self.norm.build(shape)
        hidden = self.mask_block["hidden_dim"]
        x = shape
        for block in self.blocks:
            block.build((x, shape))
            if not self.use_parallel:
                x = shape[:-1] + (hidden,)
        width = hidden * (self.n_mask_blocks if self.use_parallel else 1)
        if self.top is not None:
            self.top.build(shape[:-1] + (width,))

    def call(self, inputs, training=None):
        normed = self.norm(inputs)
        if self.use_parallel:
            hidden = ops.concatenate([b((normed, inputs)) for b in self.blocks], axis=-1)
        else:
            hidden = normed
            for block in self.blocks:
                hidden = block((hidden, inputs))
        return self.top(hidden, training=training) if self.top is not None else hidden

    def compute_output_shape(self, input_shape):
        if self.top is not None:
            width = self.top_mlp["hidden_units"][-1]
        else:
            width = self.mask_block["hidden_dim"] * (self.n_mask_blocks if self.use_parallel else 1)
        return tuple(input_shape)[:-1] + (width,)

    def get_config(self):
        return {
            **super().get_config(),
            "n_mask_blocks": self.n_mask_blocks,
            "mask_block": self.mask_block,
            "top_mlp": self.top_mlp,
            "use_parallel": self.use_parallel,
        }
