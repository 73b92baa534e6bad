"""RawFeature: numeric columns → normalized dense values or bucket ids."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from easymtl.features.raw_feature.layer import RawFeature, parse_normalizer


def dense(layer: RawFeature, values, dtype=tf.float32) -> np.ndarray:
    out = layer(tf.constant(values, dtype))
    assert out.shape == (len(values), 1) and out.dtype == tf.float32
    return out.numpy()[:, 0]


def test_no_normalizer_passes_values_through():
    np.testing.assert_allclose(dense(RawFeature(), [1.5, -2.0]), [1.5, -2.0])
    np.testing.assert_allclose(dense(RawFeature(), [3, 4], tf.int64), [3.0, 4.0])


def test_log10_with_default_threshold_and_default():
    got = dense(RawFeature(normalizer="method=log10"), [100.0, 0.001, 0.0, 1e-12, -5.0])
    np.testing.assert_allclose(got, [2.0, -3.0, -10.0, -10.0, -10.0], rtol=1e-6)


def test_log10_with_threshold_and_default():
    layer = RawFeature(normalizer="method=log10,threshold=1,default=-1")
    np.testing.assert_allclose(dense(layer, [1000.0, 1.0, 0.5]), [3.0, -1.0, -1.0], rtol=1e-6)


def test_log1p_clips_negatives_to_zero():
    got = dense(RawFeature(normalizer="method=log1p"), [0.0, math.e - 1, -3.0])
    np.testing.assert_allclose(got, [0.0, 1.0, 0.0], rtol=1e-6, atol=1e-7)


def test_zscore():
    layer = RawFeature(normalizer="method=zscore,mean=2,standard_deviation=4")
    np.testing.assert_allclose(dense(layer, [2.0, 10.0, 0.0]), [0.0, 2.0, -0.5])


def test_minmax():
    layer = RawFeature(normalizer="method=minmax,min=10,max=20")
    np.testing.assert_allclose(dense(layer, [10.0, 15.0, 30.0]), [0.0, 0.5, 2.0])


def test_boundaries_bucketize():
    layer = RawFeature(boundaries=[10, 20])
    out = layer(tf.constant([5.0, 10.0, 15.0, 20.0, 25.0]))
    assert isinstance(out, tf.RaggedTensor) and out.dtype == tf.int64
    assert out.to_list() == [[0], [1], [1], [2], [2]]
    assert layer.num_ids == 3
    assert RawFeature().num_ids is None


def test_strings_parse_and_bad_values_take_default():
    layer = RawFeature(default_value=-1.0)
    values = ["3.5", " 2 ", "-1e2", ".5", "abc", "", "nan", "1e999", "1.2.3"]
    np.testing.assert_allclose(
        dense(layer, values, tf.string), [3.5, 2.0, -100.0, 0.5, -1.0, -1.0, -1.0, -1.0, -1.0]
    )


def test_nan_and_inf_floats_take_default():
    layer = RawFeature(default_value=7.0)
    np.testing.assert_allclose(dense(layer, [np.nan, np.inf, 1.0]), [7.0, 7.0, 1.0])


def test_default_value_is_normalized_like_a_value():
    layer = RawFeature(normalizer="method=zscore,mean=1,standard_deviation=2", default_value=5)
    np.testing.assert_allclose(dense(layer, [""], tf.string), [2.0])


def test_default_value_is_bucketized():
    assert RawFeature(boundaries=[1, 2], default_value=1.5)(tf.constant(["x"])).to_list() == [[1]]


def test_parse_normalizer_fills_defaults():
    assert parse_normalizer("method=log10") == {
        "method": "log10",
        "threshold": 1e-10,
        "default": -10.0,
    }
    assert parse_normalizer("method=zscore, mean=1.5") == {
        "method": "zscore",
        "mean": 1.5,
        "standard_deviation": 1.0,
    }
    assert parse_normalizer("method=log1p") == {"method": "log1p"}


@pytest.mark.parametrize(
    "spec, words",
    [
        ("method=log2", "method"),
        ("threshold=1", "method"),
        ("method=log10,scale=2", "'scale'"),
        ("method=zscore,mean=abc", "mean"),
        ("method=zscore,standard_deviation=0", "standard_deviation"),
        ("method=minmax,min=2,max=1", "max > min"),
    ],
)
def test_parse_normalizer_errors(spec, words):
    with pytest.raises(ValueError, match=words):
        parse_normalizer(spec)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"boundaries": [2, 1]}, "`boundaries`"),
        ({"boundaries": [1, 1]}, "`boundaries`"),
        ({"boundaries": [1], "normalizer": "method=log1p"}, "`normalizer`"),
        ({"normalizer": "method=cube"}, "normalizer"),
    ],
)
def test_bad_arguments_raise(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        RawFeature(**kwargs)


def test_config_round_trip():
    layer = RawFeature(normalizer="method=minmax,min=0,max=4", default_value=2, name="price")
    clone = RawFeature.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_allclose(dense(clone, ["1", ""], tf.string), [0.25, 0.5])


# value_dim > 1: several numbers per cell (an embedding column).


def test_value_dim_splits_a_cell_into_dense_values():
    layer = RawFeature(value_dim=3, separator="|", default_value=-1.0)
    out = layer(tf.constant(["0.5|1|2", "3|x|", "", "1|2|3|4"]))
    assert out.shape == (4, 3)
    # A non-number or missing value takes default_value; a longer cell is cut.
    np.testing.assert_allclose(out, [[0.5, 1, 2], [3, -1, -1], [-1, -1, -1], [1, 2, 3]])


def test_value_dim_reads_a_list_column_and_normalizes():
    layer = RawFeature(value_dim=2, normalizer="method=zscore,mean=1,standard_deviation=2")
    out = layer(tf.constant([[1.0, 3.0, 9.0], [5.0, float("nan"), float("nan")]]))
    np.testing.assert_allclose(out, [[0, 1], [2, -0.5]])
    short = layer(tf.constant([[3.0]]))
    np.testing.assert_allclose(short, [[1, -0.5]])


def test_value_dim_with_boundaries_gives_one_id_per_value():
    layer = RawFeature(boundaries=[1.0, 2.0], value_dim=2, separator=";")
    assert layer(tf.constant(["0.5;1.5", "9;0"])).to_list() == [[0, 1], [2, 0]]


def test_value_dim_cell_check_counts_values():
    layer = RawFeature(value_dim=2, separator="|", name="emb")
    [(index, bad, what)] = layer.cell_checks()
    assert bad(tf.constant(["1|2", "", "1", "1|2|3"])).numpy().tolist() == [
        False,
        False,
        True,
        True,
    ]
    assert index == 0 and "2 values joined by '|'" in what and "'emb'" in what
    assert RawFeature().cell_checks() == []
    clone = RawFeature.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_bad_value_dim_raises():
    with pytest.raises(ValueError, match="`value_dim`"):
        RawFeature(value_dim=0)
