"""Activation names as a config gives them (Keras or TorchEasyRec's "nn.ReLU"), checked
without loading Keras."""

from __future__ import annotations

# The names keras.activations.get accepts (Keras 3); tests/test_registry.py checks them.
KERAS_ACTIVATIONS = frozenset(
    {
        "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid",
        "hard_silu", "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid",
        "log_softmax", "mish", "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink",
        "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax",
        "squareplus", "swish", "tanh", "tanh_shrink", "threshold",
    }
)  # fmt: skip

# TorchEasyRec writes activations as PyTorch module names.
_TORCH_NAMES = {
    "nn.relu": "relu",
    "nn.sigmoid": "sigmoid",
    "nn.tanh": "tanh",
    "nn.gelu": "gelu",
    "nn.silu": "silu",
    "nn.elu": "elu",
    "nn.selu": "selu",
    "nn.leakyrelu": "leaky_relu",
    "nn.softplus": "softplus",
    "nn.identity": "linear",
}


# TorchEasyRec's Dice (DIN's data-adaptive activation): a layer with weights, which an
# MLP (easymtl.layers.mlp.Dice) has in place of a function.
DICE = "dice"


def activation_name(name: str, layers: bool = False) -> str:
    """Maps a Keras or TorchEasyRec activation name ("nn.ReLU") to a Keras name; with
    `layers` (an MLP's activation), also TorchEasyRec's "Dice" (to ``DICE``).

    Raises:
        ValueError: the name is neither.
    """
    key = name.strip().lower()
    key = _TORCH_NAMES.get(key, key)
    if key == DICE:
        if layers:
            return key
        raise ValueError(
            f"{name!r} is an MLP's activation (a layer with weights, TorchEasyRec's Dice); "
            "here a function such as 'relu' is expected"
        )
    if key not in KERAS_ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; expected a Keras activation such as 'relu' "
            f"or one of {', '.join(sorted(_TORCH_NAMES))} (case-insensitive), or in an "
            "MLP 'Dice'"
        )
    return key
