"""A multi-layer perceptron."""

from __future__ import annotations

import keras

from easymtl.activations import activation_name


@keras.saving.register_keras_serializable(package="easymtl")
class MLP(keras.layers.Layer):
    """Dense → [BatchNorm | LayerNorm] → activation → [Dropout], once per hidden layer.

    Args:
        hidden_units: Output units of each layer.
        activation: Keras or TorchEasyRec ("nn.ReLU") activation name.
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
        self.activation = activation_name(activation)
        self.dropout_ratio = dropout_ratio
        self.use_bn = use_bn
        self.use_ln = use_ln
        self.use_bias = use_bias
        self.dense_layers = [
            keras.layers.Dense(u, use_bias=use_bias, name=f"dense_{i}")
            for i, u in enumerate(hidden_units)
        ]
        self.norm_layers = [
            keras.layers.BatchNormalization(name=f"bn_{i}")
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
        self.activation_fn = keras.activations.get(self.activation)
        self.final_activation = (
            activation_name(final_activation) if final_activation else self.activation
        )
        self.final_activation_fn = keras.activations.get(self.final_activation)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for dense, norm in zip(self.dense_layers, self.norm_layers):
            dense.build(shape)
            shape = shape[:-1] + (dense.units,)
            if norm is not None:
                norm.build(shape)

    def call(self, inputs, training=None):
        x = inputs
        last = len(self.dense_layers) - 1
        layers = zip(self.dense_layers, self.norm_layers, self.dropout_layers)
        for i, (dense, norm, dropout) in enumerate(layers):
            x = dense(x)
            if norm is not None:
                x = norm(x, training=training)
            x = (self.final_activation_fn if i == last else self.activation_fn)(x)
            if dropout is not None:
                x = dropout(x, training=training)
        return x

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
