"""Multi-Tower (and Multi-Tower DIN): a tower per feature group, then a final MLP."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.mlp import MLP


@keras.saving.register_keras_serializable(package="easymtl")
class MultiTower(keras.layers.Layer):
    """``Linear(final([tower_1(x_1), ..., tower_k(x_k)]))``: each tower an MLP (or
    nothing) on its feature group. A DIN tower is a group whose tensor is its DIN
    encoder's output (the feature-group builder adds the encoder), read as it is.

    Args:
        towers: ``[group, MLP keyword arguments or None]`` of each tower, in order.
        final: Keyword arguments of the final :class:`MLP`.
        num_class: Outputs.

    Call takes ``{group: tensor}`` and returns ``{"": [batch, num_class]}``.

    Example:
        >>> layer = MultiTower([["a", {"hidden_units": [4]}], ["b", None]], {"hidden_units": [3]})
        >>> layer({"a": keras.ops.ones((2, 5)), "b": keras.ops.ones((2, 2))})[""].shape
        (2, 1)
    """

    def __init__(self, towers: list, final: dict, num_class: int = 1, **kwargs):
        super().__init__(**kwargs)
        if not towers:
            raise ValueError("`towers` must not be empty.")
        self.towers_spec = [[g, dict(m) if m else None] for g, m in towers]
        self.final_mlp = dict(final)
        self.num_class = int(num_class)
        self.tower_mlps = [
            MLP(**m, name=f"tower_{i}_{g}") if m else None
            for i, (g, m) in enumerate(self.towers_spec)
        ]
        self.final = MLP(**self.final_mlp, name="final")
        self.output_layer = keras.layers.Dense(self.num_class, name="output")

    def build(self, input_shape):
        width = 0
        for (group, _), mlp in zip(self.towers_spec, self.tower_mlps):
            shape = tuple(input_shape[group])
            if mlp is not None:
                mlp.build(shape)
                shape = mlp.compute_output_shape(shape)
            width += shape[-1]
        self.final.build((None, width))
        self.output_layer.build((None, self.final_mlp["hidden_units"][-1]))

    def call(self, groups, training=None):
        parts = [
            groups[g] if mlp is None else mlp(groups[g], training=training)
            for (g, _), mlp in zip(self.towers_spec, self.tower_mlps)
        ]
        x = ops.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
        return {"": self.output_layer(self.final(x, training=training))}

    def get_config(self):
        return {
            **super().get_config(),
            "towers": self.towers_spec,
            "final": self.final_mlp,
            "num_class": self.num_class,
        }
