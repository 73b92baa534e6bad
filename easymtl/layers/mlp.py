"""A multi-layer perceptron."""

from __future__ import annotations

import keras

from easymtl.activations import DICE, activation_name
from easymtl.layers.batch_norm import BatchNormalization


@keras.saving.register_keras_serializable(package="easymtl")
class MLP(keras.layers.Layer):
    """Dense → [BatchNorm | LayerNorm] → activation → [Dropout], once per hidden layer.

    Args:
        hidden_units: Output units of each layer.
        activation: Keras or TorchEasyRec ("nn.ReLU") activation name, or "Dice" (a
            :class:`Dice` layer of its own after each layer).
        dropout_ratio: One rate for all layers, or one per layer; empty for none.
        use_bn: Batch normalization before each activation.
        use_ln: Layer normalization before each activation.
        use_bias: Bias in each Dense layer.
        final_activation: Activation of the last layer ("linear": none); default
            `activation`.

    Example:
        >>> mlp = MLP([64, 32])
        >>> mlp(keras.ops.ones((2, 8))).shape
        (2, 32)
    """

    def __init__(
        self,
        hidden_units: list[int],
        activation: str = "relu",
        dropout_ratio: list[float] | float = (),
        use_bn: bool = False,
        use_ln: bool = False,
        use_bias: bool = True,
        final_activation: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        hidden_units = [int(u) for u in hidden_units]
        if not hidden_units or min(hidden_units) <= 0:
            raise ValueError(
                "`hidden_units` must be a non-empty list of positive ints. "
                f"Received: {hidden_units}"
            )
        if isinstance(dropout_ratio, (int, float)):
            dropout_ratio = [float(dropout_ratio)]
        dropout_ratio = [float(r) for r in dropout_ratio]
        if len(dropout_ratio) == 1:
            dropout_ratio = dropout_ratio * len(hidden_units)
        if dropout_ratio and len(dropout_ratio) != len(hidden_units):
            raise ValueError(
                "`dropout_ratio` must have one value or one per layer. "
                f"Received: {dropout_ratio} for {len(hidden_units)} layers"
            )
        self.hidden_units = hidden_units
        self.activation = activation_name(activation, layers=True)
        self.dropout_ratio = dropout_ratio
        self.use_bn = use_bn
        self.use_ln = use_ln
        self.use_bias = use_bias
        self.dense_layers = [
            keras.layers.Dense(u, use_bias=use_bias, name=f"dense_{i}")
            for i, u in enumerate(hidden_units)
        ]
        self.norm_layers = [
            BatchNormalization(name=f"bn_{i}")
            if use_bn
            else keras.layers.LayerNormalization(name=f"ln_{i}")
            if use_ln
            else None
            for i in range(len(hidden_units))
        ]
        self.dropout_layers = [
            keras.layers.Dropout(r, name=f"dropout_{i}") if r > 0 else None
            for i, r in enumerate(dropout_ratio or [0.0] * len(hidden_units))
        ]
        self.final_activation = (
            activation_name(final_activation, layers=True) if final_activation else self.activation
        )
        last = len(hidden_units) - 1
        names = [self.final_activation if i == last else self.activation for i in range(last + 1)]
        # One function, or one Dice layer, per layer.
        self.activation_layers = [
            Dice(name=f"dice_{i}") if a == DICE else keras.activations.get(a)
            for i, a in enumerate(names)
        ]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for dense, norm in zip(self.dense_layers, self.norm_layers):
            dense.build(shape)
            shape = shape[:-1] + (dense.units,)
            if norm is not None:
                norm.build(shape)
        for act, units in zip(self.activation_layers, self.hidden_units):
            if isinstance(act, Dice):
                act.build(tuple(input_shape)[:-1] + (units,))

    def call(self, inputs, training=None):
        return self.hidden_layers(inputs, training=training)[-1]

    def hidden_layers(self, inputs, training=None) -> list:
        """The output of each layer, first to last (the last is the MLP's output)."""
        x, outputs = inputs, []
        layers = zip(
            self.dense_layers, self.norm_layers, self.activation_layers, self.dropout_layers
        )
        for dense, norm, act, dropout in layers:
            x = dense(x)
            if norm is not None:
                x = norm(x, training=training)
            x = act(x, training=training) if isinstance(act, Dice) else act(x)
            if dropout is not None:
                x = dropout(x, training=training)
            outputs.append(x)
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.hidden_units[-1],)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_units": self.hidden_units,
            "activation": self.activation,
            "dropout_ratio": self.dropout_ratio,
            "use_bn": self.use_bn,
            "use_ln": self.use_ln,
            "use_bias": self.use_bias,
            "final_activation": self.final_activation,
        }


@keras.saving.register_keras_serializable(package="easymtl")
class Dice(keras.layers.Layer):
    """TorchEasyRec's Dice activation (DIN's): ``p * x + (1 - p) * alpha * x``, where
    ``p = sigmoid(x batch-normalized)``: per unit over every other axis (a sequence's
    steps too), no scale or offset, PyTorch's momentum 0.1 and epsilon 1e-5; ``alpha``
    per unit, from zeros. In training the batch's statistics, else the moving ones.

    Example:
        >>> Dice()(keras.ops.ones((2, 3, 4))).shape
        (2, 3, 4)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bn = keras.layers.BatchNormalization(
            momentum=0.9, epsilon=1e-5, center=False, scale=False, name="bn"
        )

    def build(self, input_shape):
        self.bn.build(input_shape)
        self.alpha = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="alpha")

    def call(self, x, training=None):
        p = keras.ops.sigmoid(self.bn(x, training=training))
        return p * x + (1.0 - p) * self.alpha * x
