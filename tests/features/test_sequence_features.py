"""Sequence features: splitting and truncating cells, empty and missing sequences, list
columns, shared tables with the query features, sequence groups into feature groups,
and the check that a sequence's sub-feature cells line up."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from easymtl.features import build_feature_inputs
from easymtl.features.sequence_id_feature.layer import SequenceIdFeature
from easymtl.features.sequence_items import sequence_items
from easymtl.features.sequence_raw_feature.layer import SequenceRawFeature
from easymtl.protos import model_pb2, pipeline_pb2


def test_cells_keep_their_first_sequence_length_items():
    items = sequence_items(tf.constant(["a|b|c|d", "x", "", "p||q"]), "|", 3)
    assert items.to_list() == [[b"a", b"b", b"c"], [b"x"], [], [b"p", b"", b"q"]]


def test_list_columns_drop_their_padding_and_are_truncated():
    strings = sequence_items(tf.constant([["a", "b", "c"], ["", "", ""]]), "|", 2)
    assert strings.to_list() == [[b"a", b"b"], []]
    ints = sequence_items(tf.constant([[4, 5, -1], [-1, -1, -1]], tf.int64), "|", 9)
    assert ints.to_list() == [[4, 5], []]


def test_sequence_id_feature_ids_per_item():
    f = SequenceIdFeature(3, "|", num_buckets=10, default_value="0")
    # "NULL" has no id (embeds to zeros) but keeps its place; an empty item is "0".
    ids = f(tf.constant(["1|NULL||7|8", ""]))
    assert ids.to_list() == [[[1], [], [0]], []]
    tags = SequenceIdFeature(5, ";", hash_bucket_size=100, separator="|")(tf.constant(["a|b;c"]))
    assert tags.row_lengths().numpy().tolist() == [2]
    assert tags.values.row_lengths().numpy().tolist() == [2, 1]
    clone = SequenceIdFeature.from_config(f.get_config())
    assert clone(tf.constant(["3|4"])).to_list() == [[[3], [4]]]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_buckets": 10, "default_value": "0"},
        {"num_buckets": 10},
        {"hash_bucket_size": 7},
        {"hash_bucket_size": 7, "default_value": "z"},
        {"vocab_list": ["1", "7", "8"]},
    ],
)
def test_one_id_items_take_the_int_path_with_the_same_ids(kwargs):
    # Items of one id each are split once and selected on ints; the ids are those of
    # splitting and truncating the strings first.
    cells = tf.constant(["1|NULL||7|8", "", "8", "||", "1|2|3|4|5|6|7"])
    f = SequenceIdFeature(3, "|", **kwargs)
    items = sequence_items(cells, "|", 3)
    strings_first = tf.RaggedTensor.from_row_splits(f.ids(items.flat_values), items.row_splits)
    assert f(cells).to_list() == strings_first.to_list()
    assert f(cells).row_lengths().numpy().tolist() == [3, 0, 1, 3, 3]


def test_sequence_raw_feature_values_and_buckets():
    dense = SequenceRawFeature(4, "|", default_value=-1.0)(tf.constant(["1|x|2.5", ""]))
    assert dense.to_list() == [[[1.0], [-1.0], [2.5]], []]
    ids = SequenceRawFeature(4, "|", boundaries=[2.0])(tf.constant(["1|3"]))
    assert ids.to_list() == [[[0], [1]]]
    with pytest.raises(ValueError, match="sequence_length"):
        SequenceRawFeature(0)


FEATURES = """
feature_configs { id_feature { feature_name: "cate" hash_bucket_size: 50 embedding_dim: 4
    embedding_name: "cate_table" } }
feature_configs { id_feature { feature_name: "user" hash_bucket_size: 50 embedding_dim: 3 } }
feature_configs { sequence_feature { sequence_name: "clicks" sequence_length: 3
    sequence_delim: "|"
    features { id_feature { feature_name: "cate" hash_bucket_size: 50 embedding_dim: 4 } }
    features { raw_feature { feature_name: "price" } } } }
feature_configs { sequence_id_feature { feature_name: "tags" sequence_length: 2
    sequence_delim: "|" hash_bucket_size: 20 embedding_dim: 4 } }
"""


def _inputs(encoders: str, group_type: str = "DEEP", extra_group: str = ""):
    config = pipeline_pb2.PipelineConfig()
    text_format.Parse(FEATURES, config)
    model = model_pb2.ModelConfig()
    if group_type == "DEEP":
        text_format.Parse(
            'feature_groups { group_name: "all" feature_names: "user" '
            'sequence_groups { group_name: "seq" feature_names: ["cate", "clicks__cate", '
            f'"clicks__price"] }} {encoders} }} {extra_group}',
            model,
        )
    else:
        text_format.Parse(
            'feature_groups { group_name: "all" group_type: SEQUENCE feature_names: '
            f'["cate", "clicks__cate", "clicks__price"] {encoders} }}',
            model,
        )
    return build_feature_inputs(config.feature_configs, model.feature_groups)


BATCH = {
    "user": tf.constant(["u1", "u2", "u3"]),
    "cate": tf.constant(["c1", "c2", "c3"]),
    "clicks__cate": tf.constant(["c1|c2|c3|c4", "", "c9"]),
    "clicks__price": tf.constant(["1|2|3|4", "", "5"]),
    "tags": tf.constant(["a|b", "", "c"]),
}


def test_sequence_raw_feature_with_several_values_per_item():
    """TorchEasyRec's test configs (multi_tower_din_fg_mock) hold a raw_feature of
    value_dim 4 in a sequence_feature: value_dim numbers per item, joined by separator."""
    dense = SequenceRawFeature(4, "|", value_dim=2, separator=",", default_value=-1.0)
    values = dense(tf.constant(["1,2|3,x", "", "5,6"]))
    assert values.to_list() == [[[1.0, 2.0], [3.0, -1.0]], [], [[5.0, 6.0]]]
    ids = SequenceRawFeature(4, "|", boundaries=[2.0], value_dim=2, separator=",")
    assert ids(tf.constant(["1,3|3,3"])).to_list() == [[[0, 1], [1, 1]]]
    ((_, bad, what),) = dense.cell_checks()
    np.testing.assert_array_equal(
        bad(tf.constant(["1,2|3,4", "1,2|3", "", "1,2,3"])), [False, True, False, True]
    )
    assert "does not hold 2 values joined by ','" in what
    with pytest.raises(ValueError, match="reads string cells"):
        dense(tf.constant([[1.0, 2.0]]))


def test_a_sub_feature_shares_the_table_of_the_query_feature_of_its_name():
    layer = _inputs("sequence_encoders { pooling_encoder { pooling_type: 'sum' } }")
    assert layer.embeddings["clicks__cate"] == ("cate_table", "sum")
    assert "clicks__price" not in layer.embeddings  # a dense value per item
    assert layer.input_names["clicks__cate"] == "clicks__cate"
    assert layer.used_inputs == ["user", "cate", "clicks__cate", "clicks__price"]
    assert sorted(layer.tables) == ["cate_table", "user_emb"]


def test_memory_counts_a_shared_table_once_and_a_combo_table():
    from easymtl import memory
    from easymtl.protos import train_pb2

    config = pipeline_pb2.PipelineConfig()
    text_format.Parse(
        FEATURES + 'feature_configs { combo_feature { feature_name: "user_cate" '
        'expression: ["user", "cate"] hash_bucket_size: 30 embedding_dim: 2 } }',
        config,
    )
    model = model_pb2.ModelConfig()
    text_format.Parse(
        'feature_groups { group_name: "all" feature_names: ["user", "user_cate"] '
        'sequence_groups { feature_names: ["cate", "clicks__cate", "tags"] } '
        "sequence_encoders { pooling_encoder { } } }",
        model,
    )
    layer = build_feature_inputs(config.feature_configs, model.feature_groups)
    assert sorted(layer.tables) == ["cate_table", "tags_emb", "user_cate_emb", "user_emb"]
    need = memory.estimate(train_pb2.TrainConfig(), layer.tables)
    # cate and clicks__cate share cate_table (50 x 4): counted once.
    assert need.tables == (50 * 4 + 20 * 4 + 30 * 2 + 50 * 3) * memory.FLOAT_BYTES


def test_encoder_output_joins_the_group_after_its_features():
    layer = _inputs("sequence_encoders { pooling_encoder { pooling_type: 'sum' } }")
    out = layer(BATCH)["all"]
    assert tuple(out.shape) == (3, 3 + 4 + 1)
    table = keras.ops.convert_to_numpy(layer.tables["cate_table"].embeddings)
    ids = tf.strings.to_hash_bucket_fast(["c1", "c2", "c3", "c9"], 50).numpy()
    # Row 0 keeps its first 3 items (c1, c2, c3) and prices 1 + 2 + 3; row 1 is empty.
    np.testing.assert_allclose(out[0, 3:7], table[ids[:3]].sum(0), rtol=1e-6)
    np.testing.assert_allclose(out[0, 7], 6.0)
    np.testing.assert_allclose(out[1, 3:], np.zeros(5))
    np.testing.assert_allclose(out[2, 3:7], table[ids[3]], rtol=1e-6)


def test_din_and_multi_window_encoders_in_deep_and_sequence_groups():
    din = "sequence_encoders { din_encoder { attn_mlp { hidden_units: [4] } } }"
    mw = (
        "sequence_encoders { multi_window_din_encoder { attn_mlp { hidden_units: [4] } "
        "windows_len: [1, 2] } }"
    )
    # DIN's output: the weighted sequence (5) and, with exact_match (the default), the
    # attention's share on items matching the query, per shared table (cate_table: 1).
    assert tuple(_inputs(din + mw)(BATCH)["all"].shape) == (3, 3 + 6 + 3 * 5)
    layer = _inputs(din, "SEQUENCE")
    assert tuple(layer(BATCH)["all"].shape) == (3, 6)
    plain = din.replace("attn_mlp", "exact_match: false attn_mlp")
    assert tuple(_inputs(plain, "SEQUENCE")(BATCH)["all"].shape) == (3, 5)
    clone = type(layer).from_config(layer.get_config())
    assert list(clone.encoders) == list(layer.encoders) == ["all_din_encoder_0"]


def test_misaligned_sub_feature_cells_are_bad_rows():
    layer = _inputs("sequence_encoders { pooling_encoder { } }")
    [check] = layer.row_checks()
    batch = dict(BATCH, clicks__price=tf.constant(["1|2|3|4", "7", "5"]))
    assert check.column == "clicks__price"
    assert check.bad(batch).numpy().tolist() == [False, True, False]
    assert "sequence 'clicks'" in check.what


def test_list_columns_give_what_the_joined_strings_give():
    layer = _inputs("sequence_encoders { din_encoder { attn_mlp { hidden_units: [4] } } }")

    def padded(cells):
        lists = [c.split("|") if c else [] for c in cells]
        width = max(len(x) for x in lists)
        return tf.constant([x + [""] * (width - len(x)) for x in lists])

    lists = dict(
        BATCH,
        clicks__cate=padded(["c1|c2|c3|c4", "", "c9"]),
        clicks__price=tf.constant([[1.0, 2.0, 3.0, 4.0], [np.nan] * 4, [5.0] + [np.nan] * 3]),
    )
    np.testing.assert_allclose(layer(lists)["all"], layer(BATCH)["all"], rtol=1e-6)
