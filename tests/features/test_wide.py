"""WIDE feature groups: the wide term of a hand-built batch, the towers' logits it is added
to (each tower its own columns), the logistic regression of a wide-only model, and the
config checks."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from easymtl.config import validate
from easymtl.errors import ConfigError
from easymtl.features import build_feature_inputs
from easymtl.models import build_model
from easymtl.protos import model_pb2, pipeline_pb2

FEATURES = """
feature_configs { id_feature { feature_name: "user" num_buckets: 10 embedding_dim: 4 } }
feature_configs { id_feature { feature_name: "tags" num_buckets: 10 embedding_dim: 4
    separator: "|" pooling: "mean" embedding_name: "user_emb" } }
feature_configs { id_feature { feature_name: "cate" num_buckets: 6 embedding_dim: 4 } }
feature_configs { raw_feature { feature_name: "price" } }
feature_configs { raw_feature { feature_name: "pair" value_dim: 2 separator: ";" } }
"""
WIDE = """
feature_groups { group_name: "deep" feature_names: ["user", "cate"] }
feature_groups { group_name: "wide" feature_names: ["user", "tags", "price", "pair"]
    group_type: WIDE }
"""
BATCH = {
    "user": tf.constant(["3", "7"]),
    "tags": tf.constant(["1|3", ""]),
    "cate": tf.constant(["2", "5"]),
    "price": tf.constant([2.0, -1.0]),
    "pair": tf.constant(["1;2", "0.5;4"]),
}


def _pipeline(text: str) -> pipeline_pb2.PipelineConfig:
    config = pipeline_pb2.PipelineConfig()
    text_format.Parse(text, config)
    return config


def _set_wide_weights(layer, width: int) -> dict[str, np.ndarray]:
    """Known values for every wide weight of `layer`: rows of `user_emb_wide` and the
    linear weights of price and pair."""
    values = {
        "user_emb_wide": np.arange(10 * width, dtype=np.float32).reshape(10, width) / 10,
        "price": np.array([[0.5, -1.0, 2.0][:width]], np.float32),
        "pair": np.array([[1.0, 0.0, 3.0][:width], [-2.0, 1.0, 0.25][:width]], np.float32),
    }
    layer.tables["user_emb_wide"].embeddings.assign(values["user_emb_wide"])
    layer.wide_weights["price"].kernel.assign(values["price"])
    layer.wide_weights["pair"].kernel.assign(values["pair"])
    return values


def test_a_wide_group_is_the_sum_of_its_features_weights():
    config = _pipeline(FEATURES)
    groups = model_pb2.ModelConfig()
    text_format.Parse(WIDE, groups)
    layer = build_feature_inputs(config.feature_configs, groups.feature_groups, wide_dim=3)
    layer(BATCH)  # builds the linear weights
    # user and tags share user_emb, so they share its wide table; cate is only deep.
    assert sorted(layer.tables) == ["cate_emb", "user_emb", "user_emb_wide"]
    assert layer.tables["user_emb_wide"].embeddings.shape == (10, 3)
    assert np.all(layer.tables["user_emb_wide"].embeddings.numpy() == 0)  # starts at zero
    w = _set_wide_weights(layer, 3)
    out = layer(BATCH)
    table = w["user_emb_wide"]
    expected = np.stack(
        [
            table[3] + (table[1] + table[3]) / 2 + 2.0 * w["price"][0] + w["pair"].T @ [1, 2],
            table[7] + 0.0 - 1.0 * w["price"][0] + w["pair"].T @ [0.5, 4],
        ]
    )
    np.testing.assert_allclose(out["wide"].numpy(), expected, rtol=1e-6)
    assert out["deep"].shape == (2, 8)  # the deep group is as without the WIDE group
    assert set(layer.used_inputs) == {"user", "tags", "cate", "price", "pair"}


def test_every_tower_gets_its_own_columns_of_the_wide_term():
    config = _pipeline(
        FEATURES
        + "model_config {"
        + WIDE
        + """mmoe { expert_mlp { hidden_units: [8] } num_expert: 2
            task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [4] }
                losses { binary_cross_entropy {} } }
            task_towers { tower_name: "kind" label_name: "k" num_class: 2
                losses { softmax_cross_entropy {} } } } }"""
    )
    model = build_model(config.model_config, config.feature_configs)
    before = model(BATCH)
    w = _set_wide_weights(model.features, 3)
    after = model(BATCH)
    wide = model.features(BATCH)["wide"].numpy()
    assert np.abs(wide).min() > 0  # a term that could not vanish by accident
    np.testing.assert_allclose(
        after["logits_ctr"] - before["logits_ctr"], wide[:, 0], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        after["logits_kind"] - before["logits_kind"], wide[:, 1:], rtol=1e-5, atol=1e-6
    )
    assert w["user_emb_wide"].shape == (10, 3)


def test_a_wide_only_model_is_a_logistic_regression():
    config = _pipeline(
        FEATURES
        + """model_config {
            feature_groups { group_name: "wide" feature_names: ["user", "tags", "price", "pair"]
                group_type: WIDE }
            simple_multi_task {
                task_towers { tower_name: "ctr" label_name: "clk"
                    losses { binary_cross_entropy {} } }
                task_towers { tower_name: "cvr" label_name: "buy"
                    losses { binary_cross_entropy {} } } } }"""
    )
    model = build_model(config.model_config, config.feature_configs)
    model(BATCH)
    _set_wide_weights(model.features, 2)
    for k, tower in enumerate(model.towers.values()):
        tower.head.bias.assign([0.25 * (k + 1)])
    out = model(BATCH)
    wide = model.features(BATCH)["wide"].numpy()
    # Only the wide tables, the linear weights and the heads: no deep table.
    assert sorted(model.features.tables) == ["user_emb_wide"]
    np.testing.assert_allclose(out["logits_ctr"], wide[:, 0] + 0.25, rtol=1e-6)
    np.testing.assert_allclose(out["logits_cvr"], wide[:, 1] + 0.5, rtol=1e-6)
    np.testing.assert_allclose(out["probs_cvr"], 1 / (1 + np.exp(-(wide[:, 1] + 0.5))), rtol=1e-5)


def test_wide_inputs_round_trip_their_config():
    config = _pipeline(FEATURES)
    groups = model_pb2.ModelConfig()
    text_format.Parse(WIDE, groups)
    layer = build_feature_inputs(config.feature_configs, groups.feature_groups, wide_dim=2)
    again = type(layer).from_config(layer.get_config())
    assert again.wide_groups == layer.wide_groups
    assert again.wide_embeddings == layer.wide_embeddings
    assert again.wide_dim == 2 and sorted(again.wide_weights) == ["pair", "price"]
    with pytest.raises(ValueError, match="wide_dim"):
        type(layer).from_config({**layer.get_config(), "wide_dim": 0})


BASE = """
data_config { label_fields: "clk"
    input_fields { input_name: "clk" input_type: INT32 } input_fields { input_name: "user" }
    input_fields { input_name: "cate" } input_fields { input_name: "hist" } }
feature_configs { id_feature { feature_name: "user" num_buckets: 10 embedding_dim: 4 } }
feature_configs { id_feature { feature_name: "cate" num_buckets: 10 embedding_dim: 4 } }
feature_configs { sequence_id_feature { feature_name: "hist" sequence_length: 5
    num_buckets: 10 embedding_dim: 4 embedding_name: "cate_emb" } }
"""
TOWER = 'task_towers { tower_name: "ctr" label_name: "clk" %s losses { binary_cross_entropy {} } }'


def test_a_wide_group_validates_beside_a_deep_one_and_alone():
    validate(
        _pipeline(
            BASE + 'model_config { feature_groups { group_name: "d" feature_names: "user" } '
            'feature_groups { group_name: "w" feature_names: ["user", "cate"] group_type: WIDE } '
            "mmoe { expert_mlp { hidden_units: [4] } num_expert: 2 "
            + TOWER % "mlp { hidden_units: [4] }"
            + " } }"
        )
    )
    validate(
        _pipeline(
            BASE + 'model_config { feature_groups { group_name: "w" feature_names: "user" '
            "group_type: WIDE } simple_multi_task { " + TOWER % "" + " } }"
        )
    )


@pytest.mark.parametrize(
    "groups, model, field, message",
    [
        (
            'feature_groups { group_name: "w" feature_names: "hist" group_type: WIDE }',
            "simple_multi_task { %s }" % (TOWER % ""),
            "model_config.feature_groups[1].feature_names[0]",
            "is a sequence feature; a WIDE group takes",
        ),
        (
            'feature_groups { group_name: "w" feature_names: "cate" group_type: WIDE '
            'sequence_groups { feature_names: ["cate", "hist"] } '
            "sequence_encoders { pooling_encoder {} } }",
            "simple_multi_task { %s }" % (TOWER % ""),
            "model_config.feature_groups[1].sequence_groups",
            "sequences and their encoders go in a DEEP group",
        ),
        (
            'feature_groups { group_name: "w" feature_names: "cate" group_type: JAGGED_SEQUENCE }',
            "simple_multi_task { %s }" % (TOWER % ""),
            "model_config.feature_groups[1].group_type",
            "only DEEP, WIDE and SEQUENCE",
        ),
    ],
)
def test_bad_wide_group(groups, model, field, message):
    text = (
        BASE
        + 'model_config { feature_groups { group_name: "d" feature_names: "user" } '
        + groups
        + model
        + " }"
    )
    with pytest.raises(ConfigError, match=message) as e:
        validate(_pipeline(text))
    assert e.value.field == field


@pytest.mark.parametrize(
    "model, field, message",
    [
        (
            "mmoe { expert_mlp { hidden_units: [4] } num_expert: 2 %s }" % (TOWER % ""),
            "model_config.feature_groups",
            "every group is WIDE: mmoe needs a DEEP group",
        ),
        (
            "simple_multi_task { %s }" % (TOWER % "mlp { hidden_units: [4] }"),
            "model_config.simple_multi_task.task_towers[0].mlp",
            "every group is WIDE, so the mlp has no input",
        ),
    ],
)
def test_a_wide_only_model_is_simple_multi_task_without_tower_mlps(model, field, message):
    text = (
        BASE + 'model_config { feature_groups { group_name: "w" feature_names: ["user", "cate"] '
        "group_type: WIDE } " + model + " }"
    )
    with pytest.raises(ConfigError, match=message) as e:
        validate(_pipeline(text))
    assert e.value.field == field


def test_the_wide_optimizer_updates_the_wide_tables_and_only_them(config_factory):
    """With train_config.wide_optimizer, the sparse optimizer (here SGD at lr 0) leaves
    the wide tables to it: the deep tables stay as initialised, the wide ones learn; the
    checkpoint holds its slots."""
    from easymtl.config import load_config
    from easymtl.runner import Runner

    extra = """
    train_config { num_steps: 3
        sparse_optimizer { sgd_optimizer { lr: 0.0 } }
        wide_optimizer { adagrad_optimizer { lr: 0.1 initial_accumulator_value: 0.001 } } }
    data_config { batch_size: 32 } export_config { export_after_train: false }
    model_config { feature_groups { group_name: "wide" group_type: WIDE
        feature_names: ["user_id", "price"] } }
    """
    runner = Runner(load_config(str(config_factory("mmoe", extra, ["user_id", "price"]))))
    tables = runner.model.features.tables
    before = {name: t.embeddings.numpy().copy() for name, t in tables.items()}
    runner.train()
    assert runner.state.num_wide_tables == 2 and len(runner.state.wide_optimizer.slots) == 2
    for name in ("user_id_emb", "price_emb"):
        np.testing.assert_array_equal(tables[name].embeddings.numpy(), before[name])
    for name in ("user_id_emb_wide", "price_emb_wide"):
        assert np.abs(tables[name].embeddings.numpy()).max() > 0, name
    keys = [key for key, _ in tf.train.list_variables(runner.model_dir)]
    assert any(key.startswith("wide_optimizer/slots/") for key in keys), keys
    # A warm start of the same model with fine_tune_restore_optimizer loads its slots too.
    again = load_config(str(config_factory("mmoe", extra, ["user_id", "price"])))
    again.model_dir = runner.model_dir + "_warm"
    again.train_config.fine_tune_checkpoint = runner.model_dir
    again.train_config.fine_tune_restore_optimizer = True
    warm = Runner(again)
    warm.restore()
    assert warm.warm_start.optimizer
    reader = tf.train.load_checkpoint(runner.model_dir)
    for i, slots in enumerate(warm.state.wide_optimizer.slots):
        value = reader.get_tensor(f"wide_optimizer/slots/{i}/0/.ATTRIBUTES/VARIABLE_VALUE")
        assert np.abs(value).max() > 0.001  # accumulated beyond its initial value
        np.testing.assert_array_equal(slots[0].numpy(), value)
