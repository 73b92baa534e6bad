"""TorchEasyRec's `dynamicemb` on an id feature, served by a zch table: an id gets a row in
the step it is first seen (or once it passes the frequency admission), a full table
evicts by the score strategy (STEP/TIMESTAMP: least recently seen, LFU, NO_EVICTION:
none), and an id without a row reads a constant (0 by default), never trained."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, make_config

from easymtl.config import load_config
from easymtl.errors import EasymtlError
from easymtl.features.zch import ZchEmbeddingTable, dynamicemb_args
from easymtl.protos import feature_pb2


def keys(*rows) -> tf.RaggedTensor:
    return tf.ragged.constant([list(r) for r in rows], dtype=tf.int64)


def dynamic_table(text: str, dim: int = 2) -> ZchEmbeddingTable:
    """The table of an IdFeature whose dynamicemb is `text` (protobuf text)."""
    from google.protobuf import text_format

    message = text_format.Parse(text, feature_pb2.DynamicEmbedding())
    return ZchEmbeddingTable(dim=dim, **dynamicemb_args(message, dim))


def test_an_id_is_looked_up_in_its_row_in_the_step_it_is_first_seen():
    table = dynamic_table("max_capacity: 4 initializer_args { mode: 'CONSTANT' value: 0.5 }")
    got = table(keys([7], [9]), training=True).numpy()
    np.testing.assert_allclose(got, 0.5)  # its own fresh row, not the unknown ids' 0
    assert sorted(table.rows_of([7, 9]).numpy().tolist()) == [1, 2]
    # In evaluation an id without a row reads eval_initializer_args' constant (0).
    np.testing.assert_allclose(table(keys([5]), training=False).numpy(), 0.0)


def test_frequency_admission_and_the_unknown_ids_constants_are_not_trained():
    table = dynamic_table(
        "max_capacity: 4 initializer_args { mode: 'CONSTANT' value: 0.5 } "
        "eval_initializer_args { mode: 'CONSTANT' value: -1 } "
        "frequency_admission_strategy { threshold: 2 "
        "  initializer_args { mode: 'CONSTANT' value: 0.25 } }"
    )
    with tf.GradientTape() as tape:
        out = table(keys([7]), training=True)  # one sighting: not admitted
        total = tf.reduce_sum(out)
    np.testing.assert_allclose(out.numpy(), 0.25)  # the admission initializer's constant
    assert table.rows_of([7]).numpy().tolist() == [0]
    grad = tape.gradient(total, table.embeddings.value)
    assert not np.any(tf.convert_to_tensor(grad).numpy())  # row 0 is not trained
    np.testing.assert_allclose(table(keys([7]), training=True).numpy(), 0.5)  # admitted
    assert table.rows_of([7]).numpy().tolist() != [0]
    np.testing.assert_allclose(table(keys([8]), training=False).numpy(), -1.0)


@pytest.mark.parametrize(
    "strategy, first, then, kept",
    [
        ("STEP", [1, 1, 1], [3], 3),  # the id seen last stays
        ("TIMESTAMP", [1, 1, 1], [3], 3),
        ("LFU", [1, 1, 1], [3], 1),  # the id seen most stays
        ("LFU", [1], [3, 3, 3], 3),
        ("NO_EVICTION", [1], [3, 3, 3], 1),  # the id in the table stays
    ],
)
def test_a_full_table_evicts_by_the_score_strategy(strategy, first, then, kept):
    table = dynamic_table(f"max_capacity: 1 score_strategy: '{strategy}'")  # one row
    table(keys(first), training=True)
    table(keys(then), training=True)
    held = [k for k in (1, 3) if table.rows_of([k]).numpy()[0] > 0]
    assert held == [kept], strategy


def test_torcheasyrecs_defaults():
    message = feature_pb2.DynamicEmbedding(max_capacity=10000)
    args = dynamicemb_args(message, 16)
    assert args["num_rows"] == 10001 and args["policy"] == "lru" and args["filter_freq"] == 1
    assert args["initializer"]["config"] == {"minval": -0.01, "maxval": 0.01}
    assert args["unknown_values"] == (0.0, 0.0)
    message.initializer_args.mode = "NORMAL"
    assert dynamicemb_args(message, 16)["initializer"]["config"]["stddev"] == 0.25


@pytest.mark.parametrize(
    "dynamicemb, message",
    [
        (
            "dynamicemb { max_capacity: 100 } hash_bucket_size: 10",
            "exactly one of .* got hash_bucket_size, dynamicemb",
        ),
        ("dynamicemb { max_capacity: 0 }", r"dynamicemb\.max_capacity: must be positive"),
        (
            "dynamicemb { max_capacity: 100 score_strategy: 'CUSTOMIZED' }",
            r"dynamicemb\.score_strategy: 'CUSTOMIZED': expected one of STEP, TIMESTAMP",
        ),
        (
            "dynamicemb { max_capacity: 100 init_table: 'x.txt' }",
            r"dynamicemb\.init_table: loading a table dump is not supported",
        ),
        (
            "dynamicemb { max_capacity: 100 eval_initializer_args { mode: 'NORMAL' } }",
            r"dynamicemb\.eval_initializer_args\.mode: 'NORMAL': expected CONSTANT",
        ),
        (
            "dynamicemb { max_capacity: 100 initializer_args { mode: 'TRUNCATED_NORMAL' } }",
            r"dynamicemb\.initializer_args\.mode: 'TRUNCATED_NORMAL': expected UNIFORM or "
            "NORMAL or CONSTANT",
        ),
        (
            'dynamicemb { max_capacity: 100 } embedding_name: "shared"',
            "embedding_name: a dynamicemb table",
        ),
    ],
)
def test_bad_dynamicemb_config_is_one_clear_error(tmp_path, dynamicemb, message):
    path = make_config(tmp_path, "mmoe", features=FEW_FEATURES)
    path.write_text(path.read_text().replace("hash_bucket_size: 100000", dynamicemb, 1))
    with pytest.raises(EasymtlError, match=message):
        load_config(str(path))


def test_model_with_dynamicemb_trains_and_serves_unknown_ids_as_zeros(tmp_path):
    from easymtl.export import export_saved_model
    from easymtl.runner import Runner

    path = make_config(
        tmp_path,
        "mmoe",
        "train_config { num_steps: 6 } data_config { batch_size: 64 }",
        features=FEW_FEATURES,
    )
    path.write_text(
        path.read_text().replace(
            "hash_bucket_size: 100000",
            "dynamicemb { max_capacity: 200 score_strategy: 'LFU' init_capacity_per_rank: 128 "
            "initializer_args { mode: 'NORMAL' std_dev: 0.05 } }",
            1,
        )
    )
    runner = Runner(load_config(str(path)))
    runner.train()
    table = runner.model.features.tables["user_id_emb"]
    held = int(tf.reduce_sum(tf.cast(table.row_keys.value != -1, tf.int32)))
    assert held == 200  # 6 x 64 rows hold more users: full, each admitted at first sight
    export = export_saved_model(runner.model, runner.serving_specs(), str(tmp_path / "export"))
    served = tf.saved_model.load(export).signatures["serving_default"]
    features, _ = runner.split(next(iter(runner.build_dataset(False))))
    unseen = dict(features, user_id=tf.fill(tf.shape(features["user_id"]), "never-seen"))
    got = served(**unseen)["probs_ctr"].numpy()
    np.testing.assert_allclose(got, runner.model(unseen, training=False)["probs_ctr"], atol=1e-6)
    # The unseen id reads eval_initializer_args' constant, 0, whatever row 0 holds.
    table.embeddings.value.scatter_update(tf.IndexedSlices(tf.ones([1, table.dim]), [0]))
    unknown = tf.ragged.constant([[123456789]], dtype=tf.int64)
    np.testing.assert_array_equal(table(unknown, training=False).numpy(), 0.0)


def test_rows_admitted_in_different_steps_start_from_different_values():
    """A new row's values are drawn anew at each admission (an unseeded Keras initializer
    in a traced function gave the j-th new row of every step the same values)."""
    table = dynamic_table("max_capacity: 8 initializer_args { mode: 'NORMAL' std_dev: 0.05 }")
    step = tf.function(lambda k: table(k, training=True))
    for key in (1, 2, 3):
        step(keys([key]))
    rows = table.embeddings.numpy()[table.rows_of([1, 2, 3]).numpy()]
    assert len({tuple(r) for r in rows.tolist()}) == 3
    assert 0.01 < rows.std() < 0.1  # NORMAL's std 0.05


def test_a_sequence_features_id_feature_takes_dynamicemb_too():
    from easymtl.features.sequence_id_feature.layer import sequence_id_layer

    message = feature_pb2.IdFeature(feature_name="item_id", embedding_dim=4)
    message.dynamicemb.max_capacity = 10
    layer = sequence_id_layer(message, sequence_length=5, sequence_delim="|")
    assert layer.zch["immediate"] and layer.num_ids == 11


def test_a_wide_group_refuses_a_dynamic_table(tmp_path):
    from conftest import SAMPLES

    text = (SAMPLES / "configs" / "wide_and_deep_taobao.config").read_text()
    path = tmp_path / "wide.config"
    user = 'feature_name: "user_id"\n        expression: "user:user_id"\n        '
    zch = text.replace(user + "hash_bucket_size: 100000", user + "dynamicemb { max_capacity: 100 }")
    assert zch != text
    path.write_text(zch)
    with pytest.raises(EasymtlError, match="'user_id' maps its ids by a dynamicemb table; a WIDE"):
        load_config(str(path))
