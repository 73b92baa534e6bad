"""IdFeature: raw ids (strings or ints) → ragged embedding row ids."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from easymtl.features.id_feature.layer import IdFeature


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
    # TorchEasyRec's rows: [default_value, <OOV>] + vocab_list.
    layer = IdFeature(vocab_list=["a", "b", "c"])
    assert ids(layer, ["c", "a", "zz", "b"]) == [[4], [2], [1], [3]]
    assert layer.num_ids == 5


def test_vocab_list_int_input():
    assert ids(IdFeature(vocab_list=["1", "2"]), [2, 5, 1], tf.int64) == [[3], [1], [2]]


def test_separator_splits_and_drops_empty_tokens():
    layer = IdFeature(vocab_list=["a", "b", "c"], separator="|")
    assert ids(layer, ["c|x||a", "", "b|", "|"]) == [[4, 1, 2], [], [3], []]


def test_separator_with_hash_bucket():
    got = ids(IdFeature(hash_bucket_size=50, separator=";"), ["p;q", "r"])
    p, q, r = tf.strings.to_hash_bucket_fast(["p", "q", "r"], 50).numpy().tolist()
    assert got == [[p, q], [r]]


def test_empty_value_has_no_id_without_default():
    assert ids(IdFeature(hash_bucket_size=10), ["", "a"])[0] == []


def test_default_value_fills_empty_input():
    assert ids(IdFeature(num_buckets=10, default_value="7"), ["", "3"]) == [[7], [3]]
    assert ids(IdFeature(vocab_list=["u", "v"], default_value="v"), ["", "u"]) == [[3], [2]]
    # A default_value outside the list has row 0 of its own, unknown values row 1.
    layer = IdFeature(vocab_list=["u", "v"], default_value="w")
    assert ids(layer, ["", "u", "zz"]) == [[0], [2], [1]]
    hashed = ids(IdFeature(hash_bucket_size=10, separator="|", default_value="a"), ["", "b"])
    assert hashed[0] == tf.strings.to_hash_bucket_fast(["a"], 10).numpy().tolist()


@pytest.mark.parametrize(
    "kwargs, num_ids",
    [({"hash_bucket_size": 5}, 5), ({"num_buckets": 3}, 3), ({"vocab_list": ["a"]}, 3)],
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
    assert ids(clone, ["b|a", ""]) == ids(layer, ["b|a", ""]) == [[3, 2], [2]]


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
    assert ids(layer, [["a", ""], ["", ""]]) == [[2], [3]]
    numbers = IdFeature(num_buckets=10, default_value="7")
    assert ids(numbers, [[3, -1], [-1, -1]], tf.int64) == [[3], [7]]
    assert ids(IdFeature(num_buckets=10), tf.zeros([2, 0], tf.int64), tf.int64) == [[], []]
    assert ids(layer, tf.zeros([2, 0], tf.string)) == [[3], [3]]


# vocab_dict, default_bucketize_value (TorchEasyRec's meaning) and weighted ids.


def test_vocab_dict_reserves_default_and_unknown_rows():
    # As TorchEasyRec: the default value → 0, unknown → 1, the dict's ids as given.
    layer = IdFeature(vocab_dict={"a": 2, "b": 3, "c": 2}, default_value="x")
    assert ids(layer, ["a", "b", "c", "zz", "", "x"]) == [[2], [3], [2], [1], [0], [0]]
    assert layer.num_ids == 4


def test_vocab_dict_with_default_bucketize_value_uses_ids_as_given():
    layer = IdFeature(vocab_dict={"a": 0, "b": 1}, default_bucketize_value=2)
    assert ids(layer, ["b", "a", "zz"]) == [[1], [0], [2]]
    assert layer.num_ids == 3


def test_vocab_list_with_default_bucketize_value_is_used_as_it_is():
    # TorchEasyRec's id_feature test: ["xyz", "abc", "efg"], default_bucketize_value 0.
    layer = IdFeature(vocab_list=["xyz", "abc", "efg"], default_bucketize_value=0, separator="\x1d")
    assert ids(layer, ["abc\x1defg", "", "hij"]) == [[1, 2], [], [0]]
    assert layer.num_ids == 3


def test_vocabulary_lookup_is_exact_for_many_values():
    words = [f"w{i}" for i in range(5000)]
    layer = IdFeature(vocab_list=words)
    probe = ["w4999", "w0", "w2500", "w5000", "w"]
    assert ids(layer, probe) == [[5001], [2], [2502], [1], [1]]
    assert ids(layer, [7], tf.int64) == [[1]]


def test_vocabulary_serves_from_a_saved_function(tmp_path):
    layer = IdFeature(vocab_dict={"a": 2, "b": 3})
    module = tf.Module()
    module.f = tf.function(
        lambda x: layer(x).flat_values, input_signature=[tf.TensorSpec([None], tf.string)]
    )
    tf.saved_model.save(module, str(tmp_path))
    assert tf.saved_model.load(str(tmp_path)).f(tf.constant(["b", "q"])).numpy().tolist() == [3, 1]


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"hash_bucket_size": 5, "default_bucketize_value": 1}, "`default_bucketize_value`"),
        ({"vocab_list": ["a"], "default_bucketize_value": 1}, "`default_bucketize_value`"),
        ({"vocab_dict": {}}, "`vocab_dict`"),
        ({"vocab_list": ["a"], "vocab_dict": {"a": 2}}, "Exactly one"),
    ],
)
def test_bad_vocabulary_arguments_raise(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        IdFeature(**kwargs)


def test_weighted_ids_carry_their_weights():
    layer = IdFeature(num_buckets=100, separator="|", weighted=True)
    got, w = layer(tf.constant(["1:0.5|2:1.5", "", "3:x|4:2|500:1|7|12:0.9"]))
    # Malformed items (3:x, 7) and ids outside num_buckets (500) are dropped, weights too.
    assert got.to_list() == [[1, 2], [], [4, 12]]
    np.testing.assert_allclose(w.flat_values, [0.5, 1.5, 2.0, 0.9], rtol=1e-6)
    assert w.row_lengths().numpy().tolist() == [2, 0, 2]


def test_weighted_list_column_and_default():
    layer = IdFeature(vocab_list=["a", "b"], weighted=True, default_value="b")
    got, w = layer(tf.constant([["a:2", "b:3"], ["", ""]]))
    assert got.to_list() == [[2, 3], [3]] and w.to_list() == [[2.0, 3.0], [1.0]]
    # The id holds colons: the weight is after the last one.
    got, w = IdFeature(hash_bucket_size=10, weighted=True)(tf.constant(["x:y:0.25"]))
    assert got.to_list() == [tf.strings.to_hash_bucket_fast(["x:y"], 10).numpy().tolist()]
    assert w.to_list() == [[0.25]]


def test_weighted_cell_check_finds_malformed_cells():
    layer = IdFeature(hash_bucket_size=10, separator="|", weighted=True, name="tags")
    [(index, bad, what)] = layer.cell_checks()
    got = bad(tf.constant(["a:1|b:2.5e-1", "", "a:1|b", "a:", "c:1e3"])).numpy().tolist()
    assert index == 0 and got == [False, False, True, True, False]
    assert "'id:weight' items joined by '|'" in what and "'tags'" in what
    assert IdFeature(hash_bucket_size=10).cell_checks() == []


def test_new_options_round_trip():
    layer = IdFeature(vocab_dict={"a": 2}, default_bucketize_value=5, weighted=True, name="t")
    clone = IdFeature.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config() and clone.num_ids == 6
