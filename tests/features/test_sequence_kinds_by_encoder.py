"""Every sequence encoder over every kind of sequence sub-feature (ids, weighted ids, raw
values with and without boundaries), each with the query feature whose table it shares:
a batch runs, also a batch of one empty sequence (the DIN exact-match crash on a
bucketized raw sequence), and the exact-match channel finds the query's bucket."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from easymtl.features import ENCODERS, build_feature_inputs
from easymtl.features.embedding import id_match
from easymtl.protos import model_pb2, pipeline_pb2

# One small config of each encoder: a new encoder needs its line here.
ENCODER_CONFIGS = {
    "din_encoder": "din_encoder { attn_mlp { hidden_units: [4] } }",
    "simple_attention": "simple_attention { }",
    "pooling_encoder": "pooling_encoder { pooling_type: 'mean' }",
    "multi_window_din_encoder": (
        "multi_window_din_encoder { attn_mlp { hidden_units: [4] } windows_len: [1, 2] }"
    ),
}

# Sub-feature kind -> (its query feature, its sub-feature in sequence "s"), and cells of a
# batch of three rows: the query's and the sequence's.
SUB_FEATURES = {
    "id": (
        'id_feature { feature_name: "x" num_buckets: 10 embedding_dim: 4 }',
        'id_feature { feature_name: "x" num_buckets: 10 embedding_dim: 4 }',
        ["3", "4", ""],
        ["3|5|3", "", "7"],
    ),
    "weighted_id": (
        'id_feature { feature_name: "x" hash_bucket_size: 10 embedding_dim: 4 separator: ","'
        " weighted: true }",
        'id_feature { feature_name: "x" hash_bucket_size: 10 embedding_dim: 4 separator: ","'
        " weighted: true }",
        ["a:1", "b:2,c:0.5", ""],
        ["a:0.5|b:2,a:1|c:3", "", "a:1"],
    ),
    "raw_boundaries": (
        'raw_feature { feature_name: "x" boundaries: [0.1, 0.2] embedding_dim: 4 }',
        'raw_feature { feature_name: "x" boundaries: [0.1, 0.2] embedding_dim: 4 }',
        ["0.15", "0.3", ""],
        ["0.15|0.05|0.12", "", "0.5"],
    ),
    "raw_dense": (
        'raw_feature { feature_name: "x" }',
        'raw_feature { feature_name: "x" }',
        ["0.15", "0.3", ""],
        ["0.15|0.05|0.12", "", "0.5"],
    ),
}


def _layer(kind: str, encoder: str):
    query, sub, _, _ = SUB_FEATURES[kind]
    config = pipeline_pb2.PipelineConfig()
    text_format.Parse(
        f"feature_configs {{ {query} }} "
        'feature_configs { sequence_feature { sequence_name: "s" sequence_length: 4 '
        f'sequence_delim: "|" features {{ {sub} }} }} }}',
        config,
    )
    model = model_pb2.ModelConfig()
    text_format.Parse(
        'feature_groups { group_name: "all" feature_names: "x" sequence_groups { '
        f'feature_names: ["x", "s__x"] }} sequence_encoders {{ {ENCODER_CONFIGS[encoder]} }} }}',
        model,
    )
    return build_feature_inputs(config.feature_configs, model.feature_groups)


def test_every_encoder_has_a_config_here():
    assert sorted(ENCODER_CONFIGS) == sorted(ENCODERS.names())


@pytest.mark.parametrize("encoder", sorted(ENCODER_CONFIGS))
@pytest.mark.parametrize("kind", sorted(SUB_FEATURES))
def test_encoder_runs_over_sub_feature_kind(kind, encoder):
    layer = _layer(kind, encoder)
    _, _, query, sequence = SUB_FEATURES[kind]
    full = layer({"x": tf.constant(query), "s__x": tf.constant(sequence)})["all"]
    assert full.shape[0] == 3 and np.isfinite(full.numpy()).all()
    # One row with an empty sequence, then a batch of one such row.
    for batch in ([query[0], sequence[1]], [query[1], ""]):
        out = layer({"x": tf.constant(batch[:1]), "s__x": tf.constant(batch[1:])})["all"]
        assert out.shape == (1, full.shape[1]) and np.isfinite(out.numpy()).all()


def test_exact_match_finds_the_querys_bucket_in_a_bucketized_raw_sequence():
    layer = _layer("raw_boundaries", "din_encoder")
    [(encoder, _)] = layer.group_encoders["all"]
    inputs = layer.encoder_inputs(
        {"x": tf.constant(["0.15", "0.3", ""]), "s__x": tf.constant(["0.15|0.05|0.12", "", "0.5"])},
        encoder,
    )
    # 0.15 and 0.12 fall in bucket 1 with the query 0.15; 0.05 in bucket 0. The empty
    # query is the default 0 (bucket 0), and 0.5 is bucket 2.
    np.testing.assert_array_equal(
        inputs["match"][..., 0].numpy(), [[1, 0, 1], [0, 0, 0], [0, 0, 0]]
    )


def test_id_match_of_weighted_ids_and_of_no_items():
    query = (
        tf.ragged.constant([[1, 2], [3]], tf.int64),
        tf.ragged.constant([[0.5, 1.0], [2.0]]),
    )
    sequence = tf.ragged.constant([[[2], [4, 1]], []], tf.int64, ragged_rank=2)
    weights = tf.ragged.constant([[[1.0], [1.0, 1.0]], []], ragged_rank=2)
    np.testing.assert_array_equal(
        id_match(query, (sequence, weights), 3).numpy(), [[1, 1, 0], [0, 0, 0]]
    )
    empty = tf.RaggedTensor.from_row_lengths(
        tf.RaggedTensor.from_tensor(tf.zeros([0, 1], tf.int64)), tf.constant([0], tf.int64)
    )
    assert id_match(tf.ragged.constant([[1]], tf.int64), empty, 0).shape == (1, 0)


def test_weighted_items_scale_their_embeddings():
    layer = _layer("weighted_id", "pooling_encoder")  # mean over the valid items
    out = layer({"x": tf.constant(["a:1"]), "s__x": tf.constant(["a:0.5|b:2,a:1"])})["all"]
    table = layer.tables["x_emb"].embeddings.numpy()
    a, b = tf.strings.to_hash_bucket_fast(["a", "b"], 10).numpy()
    # The query's embedding (a, weight 1), then the mean of the items 0.5 e_a and
    # 2 e_b + e_a (the item's ids summed, sum pooling).
    expected = np.concatenate([table[a], (0.5 * table[a] + 2 * table[b] + table[a]) / 2])
    np.testing.assert_allclose(out.numpy()[0], expected, rtol=1e-5)


def test_weighted_sequence_cells_without_weights_are_bad_rows():
    layer = _layer("weighted_id", "pooling_encoder")
    [check] = [c for c in layer.row_checks() if c.column == "s__x"]
    cells = tf.constant(["a:1|b:2,c:1", "a|b:1", ""])
    assert check.bad({"s__x": cells}).numpy().tolist() == [False, True, False]
    assert "not 'id:weight'" in check.what
