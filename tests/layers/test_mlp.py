"""MLP: Dense → [norm] → activation → [dropout] per layer."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from easymtl.layers.mlp import MLP, activation_name


def set_constant_weights(mlp: MLP, kernel: float = 1.0, bias: float = 0.0) -> None:
    for dense in mlp.dense_layers:
        dense.kernel.assign(np.full(dense.kernel.shape, kernel, "float32"))
        if dense.use_bias:
            dense.bias.assign(np.full(dense.bias.shape, bias, "float32"))


def test_output_and_weight_shapes():
    mlp = MLP([3, 2])
    out = mlp(np.ones((2, 4), "float32"))
    assert tuple(out.shape) == (2, 2)
    assert [tuple(w.shape) for w in mlp.weights] == [(4, 3), (3,), (3, 2), (2,)]
    assert mlp.compute_output_shape((None, 4)) == (None, 2)


def test_hand_computed_output():
    mlp = MLP([3, 2])
    mlp.build((None, 2))
    set_constant_weights(mlp, kernel=1.0, bias=0.5)
    x = np.array([[1.0, 2.0], [-4.0, 1.0]], "float32")
    # Row 0: relu(1 + 2 + .5) = 3.5 per unit → 3 * 3.5 + .5 = 11. Row 1: relu(-2.5) = 0 → .5.
    np.testing.assert_allclose(mlp(x), [[11.0, 11.0], [0.5, 0.5]])


def test_no_bias_and_linear_activation():
    mlp = MLP([1], activation="nn.Identity", use_bias=False)
    mlp.build((None, 2))
    set_constant_weights(mlp, kernel=2.0)
    assert len(mlp.weights) == 1
    np.testing.assert_allclose(mlp(np.array([[-1.0, -2.0]], "float32")), [[-6.0]])


@pytest.mark.parametrize(
    "name, expected",
    [
        ("nn.ReLU", "relu"),
        ("NN.Sigmoid", "sigmoid"),
        ("nn.LeakyReLU", "leaky_relu"),
        ("gelu", "gelu"),
        (" Tanh ", "tanh"),
    ],
)
def test_activation_names(name, expected):
    assert activation_name(name) == expected
    assert MLP([2], activation=name).activation == expected


def test_unknown_activation_raises():
    with pytest.raises(ValueError, match="activation 'nn.Swoosh'"):
        MLP([2], activation="nn.Swoosh")


@pytest.mark.parametrize("units", [[], [4, 0], [-1]])
def test_bad_hidden_units_raise(units):
    with pytest.raises(ValueError, match="`hidden_units`"):
        MLP(units)


def test_dropout_ratio_broadcast_and_mismatch():
    assert MLP([4, 2], dropout_ratio=0.5).dropout_ratio == [0.5, 0.5]
    assert MLP([4, 2], dropout_ratio=[0.1]).dropout_ratio == [0.1, 0.1]
    assert MLP([4, 2], dropout_ratio=[0.1, 0.0]).dropout_layers[1] is None
    with pytest.raises(ValueError, match="`dropout_ratio`"):
        MLP([4, 2], dropout_ratio=[0.1, 0.2, 0.3])


def test_dropout_only_in_training():
    mlp = MLP([64], activation="linear", dropout_ratio=0.5)
    mlp.build((None, 4))
    set_constant_weights(mlp, bias=1.0)
    x = np.ones((1, 4), "float32")
    np.testing.assert_allclose(mlp(x, training=False), np.full((1, 64), 5.0))
    dropped = keras.ops.convert_to_numpy(mlp(x, training=True))
    assert set(np.unique(dropped)) <= {0.0, 10.0} and (dropped == 0).any()


@pytest.mark.parametrize("norm, weights", [("use_bn", 4), ("use_ln", 2)])
def test_normalization_weights(norm, weights):
    mlp = MLP([3], **{norm: True})
    mlp(np.ones((2, 5), "float32"))
    assert [tuple(w.shape) for w in mlp.weights[2:]] == [(3,)] * weights


def test_config_round_trip_gives_same_outputs():
    mlp = MLP([4, 3], activation="nn.Tanh", dropout_ratio=0.1, use_ln=True, name="m")
    x = np.random.default_rng(0).normal(size=(2, 5)).astype("float32")
    expected = mlp(x)
    clone = MLP.from_config(mlp.get_config())
    assert clone.get_config() == mlp.get_config()
    clone.build((None, 5))
    clone.set_weights(mlp.get_weights())
    np.testing.assert_allclose(clone(x), expected, rtol=1e-6)


def test_final_activation_applies_to_the_last_layer_only():
    mlp = MLP([2, 1], activation="relu", final_activation="linear")
    mlp.build((None, 1))
    set_constant_weights(mlp, kernel=-1.0, bias=0.0)
    # relu(-1 * 1) = 0 per unit, then a linear -(0 + 0) = 0; with x = -1: relu(1) = 1 per
    # unit, then -2, kept negative by the linear last layer.
    np.testing.assert_allclose(mlp(np.array([[1.0], [-1.0]], "float32")), [[0.0], [-2.0]])
    assert MLP.from_config(mlp.get_config()).final_activation == "linear"
    assert MLP([2]).final_activation == "relu"


def test_dice_is_torcheasyrecs_by_hand():
    """Dice (TorchEasyRec's "Dice" MLP activation): p * x + (1 - p) * alpha * x with p the
    sigmoid of x batch-normalized per unit (over a sequence's steps too), no scale or
    offset, epsilon 1e-5; in evaluation the moving statistics (momentum 0.1 as PyTorch
    counts it; the moving variance is Keras's, the batches' biased one, where PyTorch
    keeps the unbiased: a factor n / (n - 1) on one batch's update)."""
    from easymtl.layers.mlp import Dice

    x = np.random.default_rng(0).normal(size=(4, 3, 2)).astype("float32")
    dice = Dice()
    dice.build(x.shape)
    dice.alpha.assign([0.25, -0.5])
    flat = x.reshape(-1, 2)
    p = 1 / (1 + np.exp(-(x - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5)))
    np.testing.assert_allclose(
        dice(x, training=True), p * x + (1 - p) * [0.25, -0.5] * x, atol=1e-5
    )
    mean, var = 0.1 * flat.mean(0), 0.9 + 0.1 * flat.var(0)  # one update from (0, 1)
    p = 1 / (1 + np.exp(-(x - mean) / np.sqrt(var + 1e-5)))
    np.testing.assert_allclose(
        dice(x, training=False), p * x + (1 - p) * [0.25, -0.5] * x, atol=1e-5
    )


def test_an_mlp_with_dice_has_a_dice_layer_per_layer_and_round_trips():
    mlp = MLP([8, 4], activation="Dice", final_activation="linear")
    x = np.ones((2, 5), "float32")
    assert mlp(x).shape == (2, 4)
    paths = [w.path.split("/", 1)[1] for w in mlp.weights if "dice" in w.path]
    assert paths == ["dice_0/alpha", "dice_0/bn/moving_mean", "dice_0/bn/moving_variance"]
    again = MLP.from_config(mlp.get_config())
    assert again(x).shape == (2, 4) and again.get_config() == mlp.get_config()


def test_dice_is_an_mlps_activation_only():
    assert activation_name("Dice", layers=True) == "dice"
    with pytest.raises(ValueError, match="'Dice' is an MLP's activation"):
        activation_name("Dice")  # e.g. pepnet's ppnet_activation, a function
