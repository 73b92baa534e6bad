"""Zero-collision hash (zch): raw ids get rows of their own in a bounded table, admitted
after filter_freq sightings, evicted by LFU / LRU / distance-LFU when it is full; ids
without a row share row 0; the map is checkpointed and exported with the model."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, make_config

from easymtl.config import load_config
from easymtl.errors import EasymtlError
from easymtl.features.zch import ZchEmbeddingTable


def keys(*rows) -> tf.RaggedTensor:
    return tf.ragged.constant([list(r) for r in rows], dtype=tf.int64)


def feed(table, *batches):
    for batch in batches:
        table(keys(batch), training=True)


def rows(table, *ids) -> list[int]:
    return table.rows_of(list(ids)).numpy().tolist()


def test_ids_get_rows_of_their_own_after_filter_freq_sightings():
    table = ZchEmbeddingTable(8, 2, eviction_interval=1, filter_freq=2)
    feed(table, [10, 20, 20])  # 20 seen twice, 10 once: pending
    assert rows(table, 10, 20) == [0, 0]
    feed(table, [10])  # admission first (20 gets a row), then 10's second sighting
    assert rows(table, 10)[0] == 0 and rows(table, 20)[0] > 0
    feed(table, [30])
    got = rows(table, 10, 20, 30, 99)
    assert got[0] > 0 and got[1] > 0 and got[0] != got[1]
    assert got[2:] == [0, 0]  # 30 seen once, 99 never: the unknown row
    assert table(keys([99]), training=False).numpy().tolist() == [
        table.embeddings.numpy()[0].tolist()
    ]


@pytest.mark.parametrize(
    "policy, evicted",
    [("lfu", 2), ("lru", 1), ("distance_lfu", 1)],
)
def test_a_full_table_evicts_by_its_policy(policy, evicted):
    # Rows for 2 ids: 1 seen 6 times early, 2 three times, later; then 3 four times.
    table = ZchEmbeddingTable(3, 2, eviction_interval=1, policy=policy, decay_exponent=2.0)
    feed(table, [1] * 6, [2, 2], [])
    assert sorted(rows(table, 1, 2)) == [1, 2]
    for _ in range(4):
        feed(table, [])  # time passes: 1 and 2 unseen
    feed(table, [2], [3, 3, 3, 3], [])
    kept = 3 - evicted
    assert rows(table, evicted) == [0], policy
    assert rows(table, kept)[0] > 0 and rows(table, 3)[0] > 0, policy


def test_ties_keep_the_id_already_in_the_table_and_new_rows_start_fresh():
    table = ZchEmbeddingTable(2, 4, eviction_interval=1, initializer="ones")
    feed(table, [5], [])
    (row,) = rows(table, 5)
    assert row == 1
    table.embeddings.assign(tf.fill(table.embeddings.shape, 7.0))
    feed(table, [6], [])  # 6 seen once, as 5 was: 5 stays
    assert rows(table, 5, 6) == [1, 0]
    feed(table, [6, 6], [])  # now 6 outscores 5 and takes its row, re-initialized
    assert rows(table, 5, 6) == [0, 1]
    np.testing.assert_array_equal(table.embeddings.numpy()[1], np.ones(4))
    np.testing.assert_array_equal(table.embeddings.numpy()[0], np.full(4, 7.0))


def test_weighted_ids_pool_weighted_through_the_map():
    from easymtl.features.id_feature.layer import IdFeature

    feature = IdFeature(zch={"num_rows": 8, "eviction_interval": 1}, separator="|", weighted=True)
    table = ZchEmbeddingTable(8, 2, eviction_interval=1)
    ids, weights = feature(tf.constant(["a:1|b:1"]))
    table(ids, training=True)
    table(ids, training=True)  # a and b have rows now
    ids, weights = feature(tf.constant(["a:0.5|b:2", "a:1"]))
    got = table(ids, weights=weights, training=False).numpy()
    row = dict(zip(["a", "b"], rows(table, *ids[0].numpy().tolist()), strict=True))
    assert 0 not in row.values()
    e = table.embeddings.numpy()
    np.testing.assert_allclose(got[0], 0.5 * e[row["a"]] + 2 * e[row["b"]], rtol=1e-6)
    np.testing.assert_allclose(got[1], e[row["a"]], rtol=1e-6)


def test_graph_and_checkpoint_keep_the_map(tmp_path):
    table = ZchEmbeddingTable(16, 2, eviction_interval=2)
    step = tf.function(lambda ids: table(ids, training=True), reduce_retracing=True)
    for batch in ([1, 2, 3], [1, 4], [5], [1]):
        step(keys(batch))
    before = rows(table, 1, 2, 3, 4, 5, 6)
    # Admissions open steps 2 and 4: 1-3 get rows at the first, 4 and 5 at the second.
    assert len(set(before[:5])) == 5 and 0 not in before[:5] and before[5] == 0
    path = tf.train.Checkpoint(table=table).save(str(tmp_path / "ckpt"))
    fresh = ZchEmbeddingTable(16, 2, eviction_interval=2)
    fresh.build()
    tf.train.Checkpoint(table=fresh).restore(path).assert_existing_objects_matched()
    assert rows(fresh, 1, 2, 3, 4, 5, 6) == before
    restored = ZchEmbeddingTable.from_config(table.get_config())
    assert restored.get_config() == table.get_config()


@pytest.mark.parametrize(
    "zch, message",
    [
        (
            "zch { zch_size: 100 } hash_bucket_size: 10",
            "exactly one of .* got hash_bucket_size, zch",
        ),
        ("zch { zch_size: 1 }", "zch.zch_size: must be at least 2"),
        ("zch { zch_size: 100 eviction_interval: 0 }", "zch.eviction_interval: must be positive"),
        (
            "zch { zch_size: 100 } default_bucketize_value: 1",
            "default_bucketize_value: only used with vocab_list",
        ),
    ],
)
def test_bad_zch_config_is_one_clear_error(tmp_path, zch, message):
    path = make_config(tmp_path, "mmoe", features=FEW_FEATURES)
    text = path.read_text().replace("hash_bucket_size: 100000", zch, 1)
    path.write_text(text)
    with pytest.raises(EasymtlError, match=message):
        load_config(str(path))


def test_model_with_zch_trains_restores_and_exports_the_map(tmp_path):
    from easymtl.export import export_saved_model
    from easymtl.runner import Runner

    path = make_config(
        tmp_path,
        "mmoe",
        "train_config { num_steps: 20 } data_config { batch_size: 64 }",
        features=FEW_FEATURES,
    )
    # user_id: hashed into 100000 buckets in the sample; here a zch table of 300 rows.
    path.write_text(
        path.read_text().replace(
            "hash_bucket_size: 100000", "zch { zch_size: 300 eviction_interval: 2 lru {} }", 1
        )
    )
    config = load_config(str(path))
    runner = Runner(config)
    runner.train()
    table = runner.model.features.tables["user_id_emb"]
    assert isinstance(table, ZchEmbeddingTable)
    held = int(tf.reduce_sum(tf.cast(table.row_keys.value != -1, tf.int32)))
    assert held == 299  # 20 x 64 rows hold more users than the table: it is full
    results = runner.evaluate()

    again = Runner(config)
    assert again.evaluate()["auc_ctr"] == pytest.approx(results["auc_ctr"], abs=1e-6)
    table_again = again.model.features.tables["user_id_emb"]
    np.testing.assert_array_equal(table_again.row_keys.numpy(), table.row_keys.numpy())

    export = export_saved_model(runner.model, runner.serving_specs(), str(tmp_path / "export"))
    served = tf.saved_model.load(export).signatures["serving_default"]
    batch = next(iter(runner.build_dataset(False)))
    features, _ = runner.split(batch)
    outputs = runner.model(features, training=False)
    got = served(**features)
    np.testing.assert_allclose(got["probs_ctr"].numpy(), outputs["probs_ctr"].numpy(), atol=1e-6)
    # An id never seen serves with row 0, as in training.
    unseen = dict(features, user_id=tf.fill(tf.shape(features["user_id"]), "never-seen"))
    a = served(**unseen)["probs_ctr"].numpy()
    b = runner.model(unseen, training=False)["probs_ctr"].numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)
