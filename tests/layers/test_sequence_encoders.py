"""Sequence encoders (DIN, simple attention, pooling, multi-window DIN): hand-computed
outputs over the valid positions only, weight shapes, bad arguments, config round trip."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from easymtl.layers.din import DINEncoder
from easymtl.layers.multi_window_din import MultiWindowDINEncoder
from easymtl.layers.pooling_encoder import PoolingEncoder
from easymtl.layers.simple_attention import SimpleAttention

Q = np.array([[1.0, 0.0], [0.0, 2.0]], "float32")
S = np.array(
    [
        [[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]],  # row 0: 2 valid positions
        [[0.0, 1.0], [7.0, 7.0], [9.0, 9.0]],  # row 1: 1 valid position
    ],
    "float32",
)
MASK = np.array([[True, True, False], [True, False, False]])


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_simple_attention_weights_valid_positions_by_dot_product():
    out = np.asarray(SimpleAttention()(Q, S, MASK))
    w = _softmax(np.array([1.0, 0.0]))  # q . s_t of row 0's valid positions
    np.testing.assert_allclose(out[0], w[0] * S[0, 0] + w[1] * S[0, 1], rtol=1e-6)
    np.testing.assert_allclose(out[1], S[1, 0], rtol=1e-6)  # one valid position: itself


def test_padding_values_never_reach_the_output():
    changed = S.copy()
    changed[:, 2] = 1e4
    changed[1, 1] = -1e4
    for layer in (SimpleAttention(), PoolingEncoder("mean"), DINEncoder({"hidden_units": [3]})):
        np.testing.assert_allclose(layer(Q, S, MASK), layer(Q, changed, MASK), rtol=1e-6)


def test_din_with_constant_weights_is_the_hand_computed_softmax():
    din = DINEncoder({"hidden_units": [2], "activation": "linear"})
    din(Q, S, MASK)
    for w in din.weights:
        w.assign(np.ones(w.shape, "float32") if "kernel" in w.path else np.zeros(w.shape))
    # Linear MLP of ones: score = 2 * sum([q, s, q - s, q * s]) = 2 * (2 sum q + sum q*s).
    x = np.concatenate([Q[:, None].repeat(3, 1), S, Q[:, None] - S, Q[:, None] * S], -1)
    scores = 2 * x.sum(-1)
    w0 = _softmax(scores[0, :2])
    np.testing.assert_allclose(din(Q, S, MASK)[0], w0 @ S[0, :2], rtol=1e-5)
    assert [tuple(w.shape) for w in din.weights] == [(8, 2), (2,), (2, 1), (1,)]


def test_din_exact_match_enters_the_score_and_the_output():
    match = np.array([[[1.0], [0.0], [1.0]], [[0.0], [1.0], [1.0]]], "float32")
    din = DINEncoder({"hidden_units": [2], "activation": "linear"}, exact_match=True)
    assert din.uses_match
    out = np.asarray(din(Q, S, MASK, match=match))
    for w in din.weights:
        w.assign(np.ones(w.shape, "float32") if "kernel" in w.path else np.zeros(w.shape))
    out = np.asarray(din(Q, S, MASK, match=match))
    # Linear MLP of ones: score = 2 * sum([q, s, q - s, q * s, m]).
    x = np.concatenate([Q[:, None].repeat(3, 1), S, Q[:, None] - S, Q[:, None] * S, match], -1)
    w0 = _softmax(2 * x[0, :2].sum(-1))
    values = np.concatenate([S, match], -1)
    np.testing.assert_allclose(out[0], w0 @ values[0, :2], rtol=1e-5)
    np.testing.assert_allclose(out[1], values[1, 0], rtol=1e-5)  # one valid position
    assert out.shape == (2, 3)
    assert [tuple(w.shape) for w in din.weights] == [(9, 2), (2,), (2, 1), (1,)]
    # The match alone moves the weights: the same sequence, the match on the other item.
    moved = np.asarray(din.attention(Q, S, MASK, match=1 - match))
    assert not np.allclose(moved[0, :2], w0)


def test_din_recency_reads_the_position():
    din = DINEncoder({"hidden_units": [2], "activation": "linear"}, recency=True)
    din(Q, S, MASK)
    for w in din.weights:
        w.assign(np.ones(w.shape, "float32") if "kernel" in w.path else np.zeros(w.shape))
    same = np.ones((1, 3, 2), "float32")
    weights = np.asarray(din.attention(Q[:1], same, np.ones((1, 3), bool)))
    # Identical items: only recency tells them apart, the first (most recent) scores most.
    recency = np.exp(-np.arange(3)[:, None] / np.array([1.0, 4.0, 16.0, 64.0])).sum(-1)
    np.testing.assert_allclose(weights[0], _softmax(2 * recency), rtol=1e-5)
    assert [tuple(w.shape) for w in din.weights][0] == (8 + 4, 2)


def test_pooling_sum_and_mean_over_valid_positions():
    np.testing.assert_allclose(PoolingEncoder("sum")(None, S, MASK), [[1, 1], [0, 1]])
    np.testing.assert_allclose(PoolingEncoder("mean")(None, S, MASK), [[0.5, 0.5], [0, 1]])
    with pytest.raises(ValueError, match="pooling_type"):
        PoolingEncoder("max")


def test_empty_sequences_give_zeros():
    empty = np.zeros((2, 0, 2), "float32"), np.zeros((2, 0), bool)
    for layer in (SimpleAttention(), PoolingEncoder(), DINEncoder({"hidden_units": [3]})):
        np.testing.assert_array_equal(layer(Q, *empty), np.zeros((2, 2)))
    mw = MultiWindowDINEncoder({"hidden_units": [3]}, [1, 2])
    np.testing.assert_array_equal(np.asarray(mw(Q, *empty))[:, :4], np.zeros((2, 4)))


def test_multi_window_din_averages_weighted_positions_per_window():
    mw = MultiWindowDINEncoder({"hidden_units": [2], "activation": "linear"}, [1, 2])
    mw(Q, S, MASK)
    for w in mw.weights:
        if "alpha" in w.path:
            continue
        w.assign(np.ones(w.shape, "float32") if "kernel" in w.path else np.zeros(w.shape))
    # score_t = PReLU(2 * sum([s_t, q * s_t, q])), positive here.
    x = np.concatenate([S, Q[:, None] * S, Q[:, None].repeat(3, 1)], -1)
    a = 2 * x.sum(-1)
    out = np.asarray(mw(Q, S, MASK)).reshape(2, 3, 2)
    np.testing.assert_allclose(out[0, 0], a[0, 0] * S[0, 0], rtol=1e-5)  # window [0, 1)
    np.testing.assert_allclose(out[0, 1], a[0, 1] * S[0, 1], rtol=1e-5)  # [1, 3): 1 valid
    np.testing.assert_allclose(out[1, 1], [0, 0])  # row 1 has nothing after position 0
    np.testing.assert_allclose(out[:, 2], Q)  # the query comes last
    assert mw.compute_output_shape((None, 2), (None, None, 2)) == (None, 6)


def test_multi_window_din_reads_only_the_windows():
    mw = MultiWindowDINEncoder({"hidden_units": [2]}, [2])
    mask = np.ones((2, 3), bool)
    changed = S.copy()
    changed[:, 2] = 123.0
    np.testing.assert_allclose(mw(Q, S, mask), mw(Q, changed, mask), rtol=1e-6)


def test_narrow_query_is_padded_and_wide_query_refused():
    q1 = Q[:, :1]
    np.testing.assert_allclose(
        SimpleAttention()(q1, S, MASK), SimpleAttention()(np.pad(q1, [[0, 0], [0, 1]]), S, MASK)
    )
    with pytest.raises(ValueError, match="must not be wider"):
        DINEncoder({"hidden_units": [2]})(np.ones((2, 3), "float32"), S, MASK)


def test_bad_arguments():
    with pytest.raises(ValueError, match="hidden_units"):
        DINEncoder({})
    with pytest.raises(ValueError, match="windows_len"):
        MultiWindowDINEncoder({"hidden_units": [2]}, [])
    with pytest.raises(ValueError, match="windows_len"):
        MultiWindowDINEncoder({"hidden_units": [2]}, [3, 0])


@pytest.mark.parametrize(
    "layer",
    [
        DINEncoder({"hidden_units": [4, 2]}),
        SimpleAttention(),
        PoolingEncoder("sum"),
        MultiWindowDINEncoder({"hidden_units": [3]}, [1, 2]),
    ],
)
def test_config_round_trip(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer)
