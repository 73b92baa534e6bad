"""IdFeature: raw ids (strings or ints) → ragged embedding row ids."""

from __future__ import annotations

import pytest
import tensorflow as tf

from easymtl.features.id_feature import IdFeature


def ids(layer: IdFeature, values, dtype=tf.string) -> list[list[int]]:
    out = layer(tf.constant(values, dtype))
    assert isinstance(out, tf.RaggedTensor) and out.dtype == tf.int64
    return out.to_list()


def test_hash_bucket_matches_to_hash_bucket_fast():
    values = ["a", "user_42", "xyz", "0"]
    got = ids(IdFeature(hash_bucket_size=7), values)
    want = tf.strings.to_hash_bucket_fast(values, 7).numpy().tolist()
    assert got == [[w] for w in want]
    assert all(0 <= i < 7 for (i,) in got)


def test_hash_bucket_of_int_input_hashes_its_decimal_string():
    got = ids(IdFeature(hash_bucket_size=1000), [3, 120], tf.int64)
    assert got == [[i] for i in tf.strings.to_hash_bucket_fast(["3", "120"], 1000).numpy()]


def test_num_buckets_drops_out_of_range_non_numeric_and_empty():
    got = ids(IdFeature(num_buckets=10), ["3", " 4 ", "+5", "-1", "10", "x", "", "2.5", "09"])
    assert got == [[3], [4], [5], [], [], [], [], [], [9]]


def test_num_buckets_drops_numbers_beyond_int64():
    assert ids(IdFeature(num_buckets=10), ["99999999999999999999", "1"]) == [[], [1]]


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_num_buckets_int_input(dtype):
    assert ids(IdFeature(num_buckets=10), [3, -1, 10, 9], dtype) == [[3], [], [], [9]]


def test_vocab_list_known_and_unknown():
    layer = IdFeature(vocab_list=["a", "b", "c"])
    assert ids(layer, ["c", "a", "zz", "b"]) == [[3], [1], [0], [2]]
    assert layer.num_ids == 4


def test_vocab_list_int_input():
    assert ids(IdFeature(vocab_list=["1", "2"]), [2, 5, 1], tf.int64) == [[2], [0], [1]]


def test_separator_splits_and_drops_empty_tokens():
    layer = IdFeature(vocab_list=["a", "b", "c"], separator="|")
    assert ids(layer, ["c|x||a", "", "b|", "|"]) == [[3, 0, 1], [], [2], []]


def test_separator_with_hash_bucket():
    got = ids(IdFeature(hash_bucket_size=50, separator=";"), ["p;q", "r"])
    p, q, r = tf.strings.to_hash_bucket_fast(["p", "q", "r"], 50).numpy().tolist()
    assert got == [[p, q], [r]]


def test_empty_value_has_no_id_without_default():
    assert ids(IdFeature(hash_bucket_size=10), ["", "a"])[0] == []


def test_default_value_fills_empty_input():
    assert ids(IdFeature(num_buckets=10, default_value="7"), ["", "3"]) == [[7], [3]]
    assert ids(IdFeature(vocab_list=["u", "v"], default_value="v"), ["", "u"]) == [[2], [1]]
    hashed = ids(IdFeature(hash_bucket_size=10, separator="|", default_value="a"), ["", "b"])
    assert hashed[0] == tf.strings.to_hash_bucket_fast(["a"], 10).numpy().tolist()


@pytest.mark.parametrize(
    "kwargs, num_ids",
    [({"hash_bucket_size": 5}, 5), ({"num_buckets": 3}, 3), ({"vocab_list": ["a"]}, 2)],
)
def test_num_ids(kwargs, num_ids):
    assert IdFeature(**kwargs).num_ids == num_ids


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({}, "`hash_bucket_size`"),
        ({"hash_bucket_size": 5, "num_buckets": 5}, "Exactly one"),
        ({"hash_bucket_size": 0}, "`hash_bucket_size`"),
        ({"num_buckets": -1}, "`num_buckets`"),
        ({"vocab_list": []}, "`vocab_list`"),
        ({"hash_bucket_size": 5, "separator": ""}, "`separator`"),
    ],
)
def test_bad_arguments_raise(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        IdFeature(**kwargs)


def test_config_round_trip():
    layer = IdFeature(vocab_list=["a", "b"], separator="|", default_value="a", name="tags")
    clone = IdFeature.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert ids(clone, ["b|a", ""]) == ids(layer, ["b|a", ""]) == [[2, 1], [1]]


# List columns (ParquetDataset ARRAY_* fields): [batch, longest list], padded.


def test_list_values_are_ids_without_splitting():
    layer = IdFeature(hash_bucket_size=50, separator="|")
    got = ids(layer, [["p", "q|r"], ["", ""]])
    assert got == [tf.strings.to_hash_bucket_fast(["p", "q|r"], 50).numpy().tolist(), []]


def test_list_of_strings_equals_the_separated_string():
    layer = IdFeature(vocab_list=["a", "b", "c"], separator="|")
    assert ids(layer, [["c", "x", "", "a"], ["", "", "", ""]]) == ids(layer, ["c|x||a", ""])


@pytest.mark.parametrize("dtype", [tf.int32, tf.int64])
def test_list_of_ints_drops_padding_and_out_of_range(dtype):
    assert ids(IdFeature(num_buckets=10), [[3, 12, 9], [-1, -1, -1]], dtype) == [[3, 9], []]
    hashed = ids(IdFeature(hash_bucket_size=100), [[7, -1]], dtype)
    assert hashed == [tf.strings.to_hash_bucket_fast(["7"], 100).numpy().tolist()]


def test_list_of_floats_drops_nan_padding():
    got = ids(IdFeature(hash_bucket_size=100), [[1.5, float("nan")]], tf.float32)
    assert got == [tf.strings.to_hash_bucket_fast(["1.500000"], 100).numpy().tolist()]


def test_empty_list_takes_default_value():
    layer = IdFeature(vocab_list=["a", "b"], default_value="b")
    assert ids(layer, [["a", ""], ["", ""]]) == [[1], [2]]
    numbers = IdFeature(num_buckets=10, default_value="7")
    assert ids(numbers, [[3, -1], [-1, -1]], tf.int64) == [[3], [7]]
    assert ids(IdFeature(num_buckets=10), tf.zeros([2, 0], tf.int64), tf.int64) == [[], []]
    assert ids(layer, tf.zeros([2, 0], tf.string)) == [[2], [2]]
