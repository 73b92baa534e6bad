"""EmbeddingTable (ragged lookup + pooling) and FeatureInputs (columns → feature groups)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from easymtl.features import build_feature_inputs
from easymtl.features.embedding import EmbeddingTable, FeatureInputs
from easymtl.features.id_feature.layer import IdFeature
from easymtl.features.raw_feature.layer import RawFeature
from easymtl.protos import feature_pb2, model_pb2

# Row i of the table is [i, 10 * i].
TABLE = np.array([[i, 10 * i] for i in range(6)], "float32")


def table(num_rows: int = 5, dim: int = 2, name: str = "emb") -> EmbeddingTable:
    layer = EmbeddingTable(num_rows, dim, name=name)
    layer.build()
    layer.embeddings.assign(TABLE[:num_rows, :dim])
    return layer


def ragged(rows) -> tf.RaggedTensor:
    return tf.ragged.constant(rows, dtype=tf.int64, ragged_rank=1)


def test_weight_shape():
    layer = EmbeddingTable(7, 3)
    layer.build()
    assert [tuple(w.shape) for w in layer.weights] == [(7, 3)]


def test_sum_pooling_hand_computed():
    got = table()(ragged([[1, 2], [4], [3, 3, 0]]), pooling="sum")
    np.testing.assert_allclose(got, [[3, 30], [4, 40], [6, 60]])


def test_mean_pooling_hand_computed():
    got = table()(ragged([[1, 2], [4], [3, 3, 0]]), pooling="mean")
    np.testing.assert_allclose(got, [[1.5, 15], [4, 40], [2, 20]])


@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_empty_rows_are_zeros(pooling):
    got = table()(ragged([[], [2], []]), pooling=pooling)
    np.testing.assert_allclose(got, [[0, 0], [2, 20], [0, 0]])


def test_all_rows_empty():
    got = table()(tf.RaggedTensor.from_row_lengths(tf.zeros([0], tf.int64), [0, 0]), pooling="mean")
    np.testing.assert_allclose(got, np.zeros((2, 2)))


@pytest.mark.parametrize(
    "pooling, want", [("sum", [[2.5, 25], [0, 0]]), ("mean", [[1.25, 12.5], [0, 0]])]
)
def test_weighted_pooling_hand_computed(pooling, want):
    weights = tf.ragged.constant([[0.5, 1.0], []], dtype=tf.float32, ragged_rank=1)
    got = table()(ragged([[1, 2], []]), pooling=pooling, weights=weights)
    np.testing.assert_allclose(got, want)


def test_weighted_feature_pools_its_weights_and_checks_its_cells():
    layer = FeatureInputs(
        features={"tags": IdFeature(vocab_list=["a", "b"], separator="|", weighted=True)},
        input_names={"tags": "tag_list"},
        tables={"t": EmbeddingTable(4, 2, name="t")},
        embeddings={"tags": ("t", "sum")},
        groups={"g": ["tags"]},
    )
    build_with_table_weights(layer)
    out = layer({"tag_list": tf.constant(["a:2|b:0.5", "b:x", ""])})["g"]
    # a → row 2, b → row 3 (TorchEasyRec's vocab_list rows): 2 x [2, 20] + 0.5 x [3, 30].
    np.testing.assert_allclose(out, [[5.5, 55], [0, 0], [0, 0]])
    [check] = layer.row_checks()
    assert check.column == "tag_list"
    got = check.bad({"tag_list": tf.constant(["a:2|b:0.5", "b:x", ""])}).numpy().tolist()
    assert got == [False, True, False]


@pytest.mark.parametrize(
    "pooling, want",
    [
        ("sum", [[[3, 30], [0, 0], [4, 40]], [[1, 10], [0, 0], [0, 0]], [[0, 0]] * 3]),
        ("mean", [[[1.5, 15], [0, 0], [4, 40]], [[1, 10], [0, 0], [0, 0]], [[0, 0]] * 3]),
    ],
)
def test_sequence_ids_pool_per_item_into_place(pooling, want):
    # [batch, (items), (ids)]: row 0 has three items (the second without ids), row 1 one.
    ids = tf.RaggedTensor.from_row_lengths(ragged([[1, 2], [], [4], [1]]), [3, 1, 0])
    got = table()(ids, pooling=pooling)
    assert got.shape == (3, 3, 2)
    np.testing.assert_allclose(got, want)


def test_sequence_gradient_reaches_only_the_rows_looked_up():
    layer = table()
    ids = tf.RaggedTensor.from_row_lengths(ragged([[3], [], [3, 1]]), [2, 1])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(ids))
    grad = tape.gradient(loss, layer.embeddings)
    assert isinstance(grad, tf.IndexedSlices)
    assert sorted(grad.indices.numpy().tolist()) == [1, 3, 3]


def test_gradient_reaches_the_table_as_indexed_slices():
    layer = table()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(ragged([[1, 1], [3]]), pooling="sum"))
    (grad,) = tape.gradient(loss, layer.trainable_variables)
    assert isinstance(grad, tf.IndexedSlices)
    dense = tf.convert_to_tensor(grad).numpy()
    np.testing.assert_allclose(dense, [[0, 0], [2, 2], [0, 0], [1, 1], [0, 0]])


@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_training_pools_with_the_same_values_and_gradient_in_a_fraction_of_the_graph(pooling):
    """In training the segment sum's gradient is one gather (its ids are never negative):
    the same outputs and table gradient as TensorFlow's, with or without weights."""
    layer = table()
    ids = ragged([[1, 2, 2], [], [4], [3, 0, 1]])
    weights = tf.ragged.constant([[0.5, 1.0, 2.0], [], [3.0], [1.0, 0.5, 0.25]])

    def step(training):
        with tf.GradientTape() as tape:
            y = layer(ids, pooling=pooling, weights=weights, training=training)
            loss = tf.reduce_sum(y * tf.sin(y))
        return y, tf.convert_to_tensor(tape.gradient(loss, layer.embeddings))

    for got, want in zip(step(True), step(False)):
        np.testing.assert_allclose(got, want, rtol=1e-6)

    def traced(training):
        spec = tf.RaggedTensorSpec([None, None], tf.int64, ragged_rank=1)
        return len(tf.function(lambda x: step_graph(x, training)).get_concrete_function(spec)
                   .graph.get_operations())  # fmt: skip

    def step_graph(x, training):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, pooling=pooling, training=training))
        return tape.gradient(loss, layer.embeddings)

    assert traced(True) <= traced(False) - 12, (traced(True), traced(False))


@pytest.mark.parametrize("args, argument", [((0, 2), "`num_rows`"), ((3, 0), "`dim`")])
def test_bad_arguments_raise(args, argument):
    with pytest.raises(ValueError, match=argument):
        EmbeddingTable(*args)


def test_table_config_round_trip():
    layer = EmbeddingTable(4, 3, initializer="zeros", name="t")
    clone = EmbeddingTable.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone.build()
    np.testing.assert_allclose(clone.embeddings, np.zeros((4, 3)))


def feature_inputs(build: bool = True) -> FeatureInputs:
    layer = FeatureInputs(
        features={
            "tags": IdFeature(vocab_list=["a", "b", "c", "d"], separator="|"),
            "item": IdFeature(vocab_list=["a", "b", "c", "d"]),
            "price": RawFeature(normalizer="method=zscore,mean=0,standard_deviation=2"),
            "age": RawFeature(boundaries=[10.0]),
        },
        input_names={"tags": "tag_list", "item": "item_id", "price": "price", "age": "age"},
        tables={"shared": EmbeddingTable(6, 2, name="shared"), "age_emb": EmbeddingTable(2, 2)},
        embeddings={
            "tags": ("shared", "mean"),
            "item": ("shared", "sum"),
            "age": ("age_emb", "sum"),
        },
        groups={"user": ["price", "tags", "age"], "item": ["item", "price"]},
    )
    if build:
        build_with_table_weights(layer)
    return layer


def build_with_table_weights(layer: FeatureInputs) -> None:
    layer.build()
    for t in layer.tables.values():
        t.embeddings.assign(TABLE[: t.num_rows])


INPUTS = {
    "tag_list": tf.constant(["a|b", ""]),
    "item_id": tf.constant(["d", "zz"]),
    "price": tf.constant([4.0, -2.0]),
    "age": tf.constant([30.0, 5.0]),
    "unused": tf.constant([1, 2]),
}


def test_groups_concatenate_features_in_order():
    out = feature_inputs()(INPUTS)
    assert sorted(out) == ["item", "user"]
    # user = price (1) + tags (2, mean of rows 2, 3 → [2.5, 25]) + age (2, row 1 or 0).
    np.testing.assert_allclose(out["user"], [[2, 2.5, 25, 1, 10], [-1, 0, 0, 0, 0]])
    # item = item (2, "d" → row 5, unknown → row 1) + price (1).
    np.testing.assert_allclose(out["item"], [[5, 50, 2], [1, 10, -1]])


def test_feature_inputs_accepts_built_tables():
    layer = FeatureInputs(
        {"f": IdFeature(num_buckets=5)},
        {"f": "f"},
        {"t": table()},
        {"f": ("t", "sum")},
        {"g": ["f"]},
    )
    np.testing.assert_allclose(layer({"f": tf.constant([3])})["g"], [[3, 30]])


def test_used_inputs_in_first_use_order():
    assert feature_inputs().used_inputs == ["price", "tag_list", "age", "item_id"]


def test_group_naming_unknown_feature_raises():
    with pytest.raises(ValueError, match="'nope'"):
        FeatureInputs({}, {}, {}, {}, {"g": ["nope"]})


def test_embedding_with_unknown_table_raises():
    with pytest.raises(ValueError, match="'missing'"):
        FeatureInputs(
            {"f": IdFeature(num_buckets=3)}, {"f": "f"}, {}, {"f": ("missing", "sum")}, {}
        )


def test_feature_inputs_config_round_trip_gives_same_outputs():
    layer = feature_inputs(build=False)
    clone = FeatureInputs.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    build_with_table_weights(layer)
    build_with_table_weights(clone)
    for name, value in layer(INPUTS).items():
        np.testing.assert_allclose(clone(INPUTS)[name], value)


def test_built_feature_inputs_config_round_trip():
    layer = feature_inputs()
    clone = FeatureInputs.from_config(layer.get_config())
    clone.set_weights(layer.get_weights())
    for name, value in layer(INPUTS).items():
        np.testing.assert_allclose(clone(INPUTS)[name], value)


def test_build_feature_inputs_shares_tables_and_keeps_used_features():
    configs = [
        feature_pb2.FeatureConfig(
            id_feature=feature_pb2.IdFeature(
                feature_name="cate_id",
                embedding_name="cate",
                hash_bucket_size=10,
                embedding_dim=4,
                expression="item:cate",
            )
        ),
        feature_pb2.FeatureConfig(
            id_feature=feature_pb2.IdFeature(
                feature_name="tags",
                embedding_name="cate",
                hash_bucket_size=10,
                embedding_dim=4,
                separator="|",
                pooling="mean",
            )
        ),
        feature_pb2.FeatureConfig(raw_feature=feature_pb2.RawFeature(feature_name="price")),
        feature_pb2.FeatureConfig(
            id_feature=feature_pb2.IdFeature(feature_name="unused", num_buckets=3, embedding_dim=2)
        ),
    ]
    groups = [
        model_pb2.FeatureGroupConfig(group_name="all", feature_names=["cate_id", "tags", "price"])
    ]
    layer = build_feature_inputs(configs, groups)
    assert sorted(layer.tables) == ["cate"]
    assert layer.embeddings == {"cate_id": ("cate", "sum"), "tags": ("cate", "mean")}
    assert layer.used_inputs == ["cate", "tags", "price"]
    out = layer(
        {"cate": tf.constant(["x"]), "tags": tf.constant(["x|y"]), "price": tf.constant([1.0])}
    )
    assert tuple(out["all"].shape) == (1, 4 + 4 + 1)


def test_build_feature_inputs_rejects_a_shared_table_of_another_size():
    configs = [
        feature_pb2.FeatureConfig(
            id_feature=feature_pb2.IdFeature(
                feature_name=name, embedding_name="t", hash_bucket_size=10, embedding_dim=dim
            )
        )
        for name, dim in (("a", 4), ("b", 8))
    ]
    groups = [model_pb2.FeatureGroupConfig(group_name="g", feature_names=["a", "b"])]
    with pytest.raises(ValueError, match="'t'"):
        build_feature_inputs(configs, groups)


def test_layers_serialize_by_registered_name():
    assert keras.saving.get_registered_object("easymtl>FeatureInputs") is FeatureInputs
    assert keras.saving.get_registered_object("easymtl>EmbeddingTable") is EmbeddingTable


def test_embedding_regularization_is_the_batch_mean_of_the_rows_squares():
    layer = FeatureInputs(
        features={"a": IdFeature(num_buckets=5), "b": IdFeature(num_buckets=5, separator="|"),
                  "x": RawFeature()},
        input_names={"a": "a", "b": "b", "x": "x"},
        tables={"emb": table()},
        embeddings={"a": ("emb", "sum"), "b": ("emb", "mean")},
        groups={"g": ["a", "b", "x"]},
        embedding_regularization=0.01,
    )  # fmt: skip
    batch = {
        "a": tf.constant(["1", "2"]),
        "b": tf.constant(["1|3", ""]),
        "x": tf.constant([5.0, 7.0]),  # a dense value: not penalised
    }
    layer(batch, training=False)
    assert layer.losses == []
    layer(batch, training=True)
    # Row 0: a = [1, 10], b = mean([1, 10], [3, 30]) = [2, 20]; row 1: a = [2, 20], no b.
    rows = [1 + 100 + 4 + 400, 4 + 400]
    (loss,) = layer.losses
    np.testing.assert_allclose(loss.numpy(), 0.01 * np.mean(rows), rtol=1e-6)
    assert FeatureInputs.from_config(layer.get_config()).embedding_regularization == 0.01
    with pytest.raises(ValueError, match="embedding_regularization"):
        FeatureInputs.from_config({**layer.get_config(), "embedding_regularization": -1.0})


def test_gradient_clipping_clips_each_looked_up_embeddings_gradient():
    """TorchEasyRec's (fbgemm's) sparse gradient_clipping: the gradient of each pooled
    embedding is clipped elementwise before it is spread over the rows looked up."""
    table = EmbeddingTable(10, 2)
    table.build()
    ids = tf.ragged.constant([[1, 2], [2]], dtype=tf.int64)
    scale = tf.constant([[100.0, -0.5], [3.0, 0.2]])
    for limit, expected in ((None, [[100, -0.5], [103, -0.3]]), (1.0, [[1, -0.5], [2, -0.3]])):
        table.max_gradient = limit
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(table(ids) * scale)
        grad = tf.convert_to_tensor(tape.gradient(loss, table.embeddings))
        np.testing.assert_allclose(grad.numpy()[[1, 2]], expected, rtol=1e-6)
    # In a sequence, each id's gradient: item [1, 2] mean-pooled passes 10 / 2 = 5 to
    # each id, clipped to 1 (clipping the item's 10 first would leave 0.5 each).
    table.max_gradient = 1.0
    seq = tf.RaggedTensor.from_row_lengths(ids, [2])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(table(seq, pooling="mean", steps=2) * 10.0)
    grad = tf.convert_to_tensor(tape.gradient(loss, table.embeddings))
    np.testing.assert_allclose(grad.numpy()[[1, 2]], [[1, 1], [2, 2]])
    table.max_gradient = 6.0  # unclipped: 5 and 5 + 10 (item [2] alone) clipped to 6
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(table(seq, pooling="mean", steps=2) * 10.0)
    grad = tf.convert_to_tensor(tape.gradient(loss, table.embeddings))
    np.testing.assert_allclose(grad.numpy()[[1, 2]], [[5, 5], [11, 11]])
