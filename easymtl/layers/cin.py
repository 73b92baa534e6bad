"""xDeepFM's Compressed Interaction Network (Lian et al., KDD 2018)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="easymtl")
class CIN(keras.layers.Layer):
    """Layers of feature maps from the element-wise products of the previous layer's
    maps and the input fields: layer k's maps are ``X^k_h = sum_{i,j} W^k_{h,i,j}
    (X^{k-1}_i * X^0_j) + b^k_h`` (a 1x1 convolution over the H_{k-1} x F products, as
    TorchEasyRec's Conv1d), and each layer contributes its maps summed over the field
    dimension.

    Args:
        cin_layer_size: Feature maps H_k of each layer.

    Call takes [batch, fields F, dim D] and returns [batch, sum(cin_layer_size)].

    Example:
        >>> CIN([4, 2])(keras.ops.ones((2, 3, 5))).shape
        (2, 6)
    """

    def __init__(self, cin_layer_size: list[int], **kwargs):
        super().__init__(**kwargs)
        sizes = [int(s) for s in cin_layer_size]
        if not sizes or min(sizes) <= 0:
            raise ValueError(
                f"`cin_layer_size` must be a non-empty list of positive ints. Received: {sizes}"
            )
        self.cin_layer_size = sizes

    def build(self, input_shape):
        fields = input_shape[1]
        previous = fields
        self.kernels, self.biases = [], []
        for k, size in enumerate(self.cin_layer_size):
            self.kernels.append(
                self.add_weight(shape=(previous * fields, size), name=f"kernel_{k}")
            )
            self.biases.append(
                self.add_weight(shape=(size,), initializer="zeros", name=f"bias_{k}")
            )
            previous = size

    def call(self, inputs):
        fields, dim = inputs.shape[1], inputs.shape[2]
        x, outputs = inputs, []
        for kernel, bias in zip(self.kernels, self.biases):
            z = ops.einsum("bhd,bfd->bhfd", x, inputs)
            z = ops.reshape(z, (-1, x.shape[1] * fields, dim))
            x = ops.einsum("bcd,co->bod", z, kernel) + bias[None, :, None]
            outputs.append(ops.sum(x, axis=2))
        return ops.concatenate(outputs, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], sum(self.cin_layer_size))

    def get_config(self):
        return {**super().get_config(), "cin_layer_size": self.cin_layer_size}
