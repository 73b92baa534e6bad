"""AITM's options for EasyRec's AITM: the own-query AIT attention, stop_gradient, a shared
bottom MLP and output MLPs per task."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from easymtl.layers.aitm import AITM, AdaptiveInformationTransfer

MLP = {"hidden_units": [4], "activation": "tanh"}


def test_own_query_attention_is_the_own_representation_against_both():
    ait = AdaptiveInformationTransfer(2, attention="own_query")
    p = np.array([[1.0, 0.0]], "float32")
    q = np.array([[0.0, 2.0]], "float32")
    ait.build([p.shape, q.shape])
    for layer in ait.projections:
        layer.kernel.assign(np.eye(2, dtype="float32"))
        layer.bias.assign(np.zeros(2, "float32"))
    z, weights = ait([p, q], return_weights=True)
    # Query q: scores <q, p> / sqrt 2 = 0 and <q, q> / sqrt 2 = 4 / sqrt 2.
    w = np.exp([0.0, 4 / math.sqrt(2)])
    w = w / w.sum()
    np.testing.assert_allclose(weights, [w], rtol=1e-5)
    np.testing.assert_allclose(z, [w[0] * p[0] + w[1] * q[0]], rtol=1e-5)
    assert AdaptiveInformationTransfer.from_config(ait.get_config()).attention == "own_query"
    with pytest.raises(ValueError, match="`attention` must be one of"):
        AdaptiveInformationTransfer(2, attention="cross")


def test_bottom_and_output_mlps_and_round_trip():
    aitm = AITM(
        [MLP, MLP],
        bottom_mlp={"hidden_units": [8, 6], "final_activation": "linear"},
        output_mlps=[{"hidden_units": [3]}, {"hidden_units": [2]}],
        attention="own_query",
    )
    out = aitm(np.ones((5, 7), "float32"))
    assert [tuple(o.shape) for o in out] == [(5, 3), (5, 2)]
    assert aitm.towers[0].dense_layers[0].kernel.shape == (6, 4)  # on the bottom's output
    assert AITM.from_config(aitm.get_config()).get_config() == aitm.get_config()
    with pytest.raises(ValueError, match="one MLP per task"):
        AITM([MLP, MLP], output_mlps=[{"hidden_units": [3]}])


@pytest.mark.parametrize("stop", [False, True])
def test_stop_gradient_keeps_the_later_task_out_of_the_earlier_tower(stop):
    aitm = AITM([MLP, MLP], stop_gradient=stop)
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 3)), tf.float32)
    aitm(x)
    with tf.GradientTape() as tape:
        second = aitm(x)[1]
        loss = tf.reduce_sum(second)
    first_tower = aitm.towers[0].dense_layers[0].kernel
    grad = tape.gradient(loss, first_tower)
    if stop:
        assert grad is None or not np.any(keras.ops.convert_to_numpy(grad))
    else:
        assert np.any(keras.ops.convert_to_numpy(grad))
