"""The single-task rankers (easymtl/models/rank.py and the ranker files): the implicit
task of model_config's losses/metrics/num_class, TorchEasyRec's output and metric names,
their config errors, where easymtl deliberately differs from TorchEasyRec
(docs/rankers.md), and that they learn."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, LEARNING_FEATURES, MODEL_BLOCKS, SAMPLES, make_config
from google.protobuf import text_format

from easymtl.config import load_config
from easymtl.errors import EasymtlError
from easymtl.models import build_model, build_model_tasks
from easymtl.protos import data_pb2, model_pb2
from easymtl.runner import Runner

RANKERS = [
    "multi_tower", "multi_tower_din", "wide_and_deep", "deepfm", "xdeepfm", "dlrm",
    "dcn_v1", "dcn_v2", "mask_net", "wukong", "rocket_launching",
]  # fmt: skip


def loaded(tmp_path, model: str, extra: str = "", features=FEW_FEATURES):
    return load_config(str(make_config(tmp_path, model, extra, features)))


def refused(tmp_path, model: str, extra: str = "", features=FEW_FEATURES, edit=None) -> str:
    path = make_config(tmp_path, model, extra, features)
    if edit is not None:
        text = path.read_text()
        path.write_text(edit(text))
    with pytest.raises(EasymtlError) as info:
        load_config(str(path))
    return str(info.value)


def rows(config, n: int = 8) -> dict:
    """The first `n` eval rows of the sample data, as the model's raw inputs."""
    fields = config.data_config.input_fields
    lines = (SAMPLES / "data" / "taobao_mtl_eval.csv").read_text().splitlines()[:n]
    cells = [line.split(",") for line in lines]
    out = {}
    for i, f in enumerate(fields):
        values = [c[i] for c in cells]
        if f.input_type == data_pb2.STRING:
            out[f.input_name] = tf.constant(values)
        else:
            out[f.input_name] = tf.strings.to_number(values, tf.int64)
    return out


# ------------------------------------------------------------------ the implicit task


def test_label_defaults_to_the_first_label_field(tmp_path):
    config = loaded(tmp_path, "dcn_v2")
    assert config.model_config.label_name == "clk"
    (task,) = build_model_tasks(config.model_config)
    assert (task.name, task.label_name, task.prediction_name, task.loss_name) == (
        "",
        "clk",
        "probs",
        "loss",
    )
    assert [m.name for m in task.make_metrics()] == ["auc"]


def test_label_name_picks_another_label(tmp_path):
    config = loaded(tmp_path, "dcn_v2", 'model_config { label_name: "buy" }')
    assert build_model_tasks(config.model_config)[0].label_name == "buy"
    message = refused(tmp_path, "dcn_v2", 'model_config { label_name: "nope" }')
    assert "model_config.label_name: 'nope' is not one of data_config.label_fields" in message


@pytest.mark.parametrize(
    "losses, num_class, names",
    [
        ("binary_cross_entropy {}", 1, {"logits": (8,), "probs": (8,)}),
        ("softmax_cross_entropy {}", 2, {"logits": (8, 2), "probs": (8, 2), "probs1": (8,)}),
        ("softmax_cross_entropy {}", 3, {"logits": (8, 3), "probs": (8, 3)}),
        ("l2_loss {}", 1, {"y": (8,)}),
    ],
)
def test_outputs_are_named_as_torcheasyrec_names_them(tmp_path, losses, num_class, names):
    config = loaded(tmp_path, "dcn_v2")
    model_config = config.model_config
    del model_config.losses[:], model_config.metrics[:]
    model_config.num_class = num_class
    text_format.Merge(f"losses {{ {losses} }}", model_config)
    if num_class == 2:
        text_format.Merge("metrics { auc {} }", model_config)
    outputs = build_model(model_config, config.feature_configs)(rows(config), training=False)
    assert {k: tuple(v.shape) for k, v in outputs.items()} == names
    if "probs1" in outputs:
        np.testing.assert_allclose(outputs["probs1"], outputs["probs"][:, 1])
        (task,) = build_model_tasks(model_config)
        (auc,) = task.make_metrics()
        task.update_metrics([auc], {"clk": tf.constant([0, 1] * 4)}, outputs)
        assert auc.name == "auc" and np.isfinite(float(auc.result()))


def test_auc_of_more_than_two_classes_is_refused(tmp_path):
    message = refused(
        tmp_path,
        "dcn_v2",
        "model_config { num_class: 3 losses { softmax_cross_entropy {} } }",
        edit=lambda t: re.sub(r"losses \{\s*binary_cross_entropy \{\s*\}\s*\}", "", t, count=1),
    )
    assert "auc scores a binary or two-class tower (by probs1)" in message


def test_multi_task_models_refuse_the_rankers_fields(tmp_path):
    message = refused(tmp_path, "mmoe", "model_config { losses { binary_cross_entropy {} } }")
    assert "model_config.losses: is a single-task ranker's field" in message


def test_a_ranker_refuses_a_loss_weighting(tmp_path):
    message = refused(tmp_path, "dcn_v2", "model_config { loss_weighting { uncertainty {} } }")
    assert "model_config.loss_weighting: combines the towers of a multi-task model" in message


def test_ranker_needs_a_label_without_a_pipeline():
    model = model_pb2.ModelConfig()
    text_format.Merge(
        'feature_groups { group_name: "all" feature_names: "a" } '
        + MODEL_BLOCKS["dcn_v2"].replace("%(rank)s", "losses { binary_cross_entropy {} }"),
        model,
    )
    with pytest.raises(EasymtlError, match="model_config.label_name: dcn_v2 learns one label"):
        build_model_tasks(model)


# ------------------------------------------------------------ groups and config errors


def test_deepfm_needs_its_wide_group(tmp_path):
    message = refused(
        tmp_path, "deepfm", edit=lambda t: t.replace('group_name: "wide"', 'group_name: "w"')
    )
    assert "model_config.feature_groups: deepfm reads a feature group named 'wide'" in message


def test_deepfm_wide_group_must_be_wide(tmp_path):
    message = refused(tmp_path, "deepfm", edit=lambda t: t.replace("group_type: WIDE", ""))
    assert (
        "model_config.feature_groups[0].group_type: deepfm reads group 'wide' as a WIDE" in message
    )


def test_a_deep_group_the_ranker_does_not_read_is_refused(tmp_path):
    extra = 'model_config { feature_groups { group_name: "other" feature_names: "user_id" } }'
    message = refused(tmp_path, "dcn_v2", extra)
    assert "model_config.feature_groups[1]: dcn_v2 does not read group 'other'" in message


def test_fm_fields_must_be_embedded_with_one_dim(tmp_path):
    raw = 'feature_configs { raw_feature { feature_name: "pv" expression: "item:price" } }'
    extra = (
        raw
        + ' model_config { feature_groups { group_name: "fm" feature_names: ["user_id", "pv"] } }'
    )
    message = refused(tmp_path, "deepfm", extra)
    assert "feature_names[1]: 'pv' is not an embedded feature; deepfm reads group 'fm'" in message


def test_dlrm_dense_mlp_must_end_with_the_embedding_dim(tmp_path):
    raw = 'feature_configs { raw_feature { feature_name: "pv" expression: "item:price" } }'
    groups = """model_config {
        feature_groups { group_name: "sparse" feature_names: ["user_id", "price"] }
        feature_groups { group_name: "dense" feature_names: "pv" }
        dlrm { dense_mlp { hidden_units: [4] } } }"""
    message = refused(tmp_path, "dlrm", raw + groups)
    assert "model_config.dlrm.dense_mlp.hidden_units: must end with 8 units" in message


@pytest.mark.parametrize(
    "model, extra, expected",
    [
        ("mask_net", "", "mask_net_module.top_mlp: is needed by the mask_net ranker"),
        (
            "xdeepfm",
            'model_config { xdeepfm { wide_init_fn: "nn.init.kaiming_" } }',
            "wide_init_fn: 'nn.init.kaiming_' is not one of the supported init functions",
        ),
        (
            "multi_tower",
            'model_config { multi_tower { towers { input: "all" } } }',
            "towers[1].input: 'all' has a tower already",
        ),
        (
            "wukong",
            "model_config { wukong { wukong_layers { lcb_feature_num: 0 fmb_feature_num: 1 "
            "feature_num_mlp { hidden_units: [2] } } } }",
            "wukong_layers[1].lcb_feature_num: must be positive",
        ),
    ],
)
def test_ranker_config_errors(tmp_path, model, extra, expected):
    def drop_top_mlp(text):
        return re.sub(r"top_mlp \{[^}]*\}", "", text)

    assert expected in refused(tmp_path, model, extra, edit=drop_top_mlp if not extra else None)


# ------------------------------------------ where easymtl differs from TorchEasyRec


def test_wide_embeddings_start_at_zero_unless_wide_init_fn(tmp_path):
    def wide(config):
        model = build_model(config.model_config, config.feature_configs)
        model(rows(config))
        return [v.numpy() for v in model.variables if v.path.endswith("_wide/embeddings")]

    assert all(np.all(w == 0) for w in wide(loaded(tmp_path, "deepfm")))
    config = loaded(
        tmp_path,
        "deepfm",
        'model_config { deepfm { wide_init_fn: "nn.init.uniform_,a=0.5,b=0.6" } }',
    )
    tables = wide(config)
    assert tables and all(w.min() >= 0.5 and w.max() <= 0.6 for w in tables)
    assert tables[0].shape[1] == 4  # wide_embedding_dim, TorchEasyRec's default


def test_xdeepfm_wide_fields_start_as_their_tables_so_that_the_cin_learns(tmp_path):
    """TorchEasyRec's xDeepFM: without wide_init_fn its wide tables start as their
    features' tables; from zeros, the CIN's products would get no gradient at all."""

    def wide_gradients(config):
        model = build_model(config.model_config, config.feature_configs)
        inputs = rows(config)
        model(inputs)
        tables = [v for v in model.trainable_variables if v.path.endswith("_wide/embeddings")]
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(inputs, training=True)["logits"])
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, tables)]
        return tables, model, [float(tf.reduce_sum(tf.abs(g))) for g in grads]

    as_wide_as_deep = "model_config { xdeepfm { wide_embedding_dim: 8 } }"  # the tables' 8
    tables, model, grads = wide_gradients(loaded(tmp_path, "xdeepfm", as_wide_as_deep))
    assert tables and all(np.any(t.numpy() != 0) for t in tables)
    assert all(g > 0 for g in grads)
    deep = {v.path: v.numpy() for v in model.variables}
    for t in tables:  # drawn as the deep table (no init_fn: ±sqrt(1/rows)), not a copy
        twin = deep[t.path.replace("_wide/", "/")]
        assert twin.shape == t.shape and not np.allclose(twin, t.numpy())
        bound = t.shape[0] ** -0.5
        assert np.abs(t.numpy()).max() <= bound < 2 * np.abs(t.numpy()).max()
    zeros = 'model_config { xdeepfm { wide_init_fn: "nn.init.zeros_" } }'
    assert all(g == 0 for g in wide_gradients(loaded(tmp_path, "xdeepfm", zeros))[2])


def test_an_unread_wide_group_adds_its_first_order_term(tmp_path):
    extra = (
        'model_config { feature_groups { group_name: "lr" feature_names: "user_id" '
        "group_type: WIDE } }"
    )
    config = loaded(tmp_path, "dcn_v2", extra)
    model = build_model(config.model_config, config.feature_configs)
    inputs = rows(config)
    before = model(inputs)["logits"].numpy()
    (table,) = [v for v in model.variables if v.path.endswith("_wide/embeddings")]
    table.assign(tf.ones_like(table))  # every id's wide weight 1: +1 to each logit
    np.testing.assert_allclose(model(inputs)["logits"].numpy(), before + 1.0, rtol=1e-5)


def test_rocket_launching_serves_the_light_net_and_trains_both(tmp_path):
    config = loaded(tmp_path, "rocket_launching")
    model = build_model(config.model_config, config.feature_configs)
    inputs = rows(config)
    assert sorted(model(inputs, training=False)) == ["logits_light", "probs_light"]
    trained = model(inputs, training=True)
    assert {"logits_booster", "probs_booster"} <= set(trained)
    (task,) = build_model_tasks(config.model_config)
    labels = {"clk": tf.constant([0, 1] * 4)}
    light_only = task.loss(labels, {k: trained[k] for k in ("logits_light", "probs_light")})
    # The booster's loss, the hint loss and the cosine similarity add in training.
    assert float(task.loss(labels, trained)) != pytest.approx(float(light_only))
    # The light net does not train the shared layers: no gradient reaches the group.
    with tf.GradientTape() as tape:
        out = model(inputs, training=True)
        loss = task.weighted_loss(task.label(labels), out["logits_light"], labels)
    light = [v for v in model.trainable_variables if "light" in v.path]
    booster = [v for v in model.trainable_variables if "booster" in v.path]
    grads = tape.gradient(loss, light + booster)
    assert all(g is not None for g in grads[: len(light)])
    assert all(g is None for g in grads[len(light) :])


# ------------------------------------------------------------------------- learning


@pytest.mark.slow
@pytest.mark.parametrize("model", ["deepfm", "dcn_v2", "dlrm"])
def test_ranker_learns_the_sample(tmp_path, model):
    extra = (
        "train_config { num_steps: 150 log_step_count_steps: 50 } "
        "data_config { batch_size: 128 } eval_config { num_steps: 20 } "
        "export_config { export_after_train: false }"
    )
    runner = Runner(loaded(tmp_path, model, extra, LEARNING_FEATURES))
    runner.train()
    first, last = runner.history[0][1]["total"], runner.history[-1][1]["total"]
    result = runner.evaluate()
    assert last < first and result["auc"] > 0.6, (runner.history, result)


def test_prior_bias_leaves_a_ranker_as_it_is(tmp_path):
    extra = (
        "train_config { num_steps: 1 prior_bias: true } data_config { batch_size: 16 } "
        "eval_config { num_steps: 1 } export_config { export_after_train: false }"
    )
    runner = Runner(loaded(tmp_path, "deepfm", extra))
    assert runner.train() == 1
