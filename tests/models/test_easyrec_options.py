"""What easymtl gained for EasyRec's meaning: model_config.l2_regularization (the
penalty on dense kernels), ESMM's groups (an MLP per feature group), dense Adagrad's
initial accumulator."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import FEW_FEATURES
from google.protobuf import text_format

from easymtl.config import load_config
from easymtl.errors import EasymtlError
from easymtl.models import build_model
from easymtl.optimizers import build_dense_optimizer
from easymtl.protos import optimizer_pb2
from easymtl.runner import Runner


def _batch(runner):
    batch = next(iter(runner.build_dataset(training=True)))
    return runner.split(batch)[0]


def test_l2_regularization_adds_the_kernels_squares_in_training(config_factory):
    path = config_factory(
        "mmoe", "model_config { l2_regularization: 0.01 } data_config { batch_size: 8 }",
        features=FEW_FEATURES,
    )  # fmt: skip
    runner = Runner(load_config(str(path)))
    features = _batch(runner)
    model = runner.model
    model(features, training=True)
    layers = [model.backbone, *model.towers.values()]
    kernels = [v for layer in layers for v in layer.trainable_variables if v.name == "kernel"]
    assert len(kernels) >= 8  # experts, gates, towers, heads
    expected = 0.01 * sum(float(tf.reduce_sum(tf.square(k))) for k in kernels)
    assert len(model.losses) == 1
    np.testing.assert_allclose(float(model.losses[0]), expected, rtol=1e-5)
    model(features, training=False)
    assert not model.losses  # evaluation adds no penalty


def test_esmm_groups_read_their_feature_groups(config_factory):
    groups = """model_config {
      feature_groups { group_name: "user" feature_names: ["user_id", "tag_brand_list"] }
      feature_groups { group_name: "item" feature_names: ["price"] }
      esmm { groups { input: "user" mlp { hidden_units: [8] } }
             groups { input: "item" mlp { hidden_units: [4] } } } }"""
    path = config_factory("esmm", features=FEW_FEATURES)
    config = load_config(str(path))
    del config.model_config.feature_groups[:]
    text_format.Merge(groups, config)
    model = build_model(config.model_config, config.feature_configs)
    assert model.backbone.group_inputs == ["user", "item"]
    runner = Runner(config)
    outputs = runner.model(_batch(runner), training=False)
    assert {"probs_ctr", "probs_cvr", "probs_ctcvr"} <= set(outputs)
    assert runner.model.backbone.mlps[1].dense_layers[0].kernel.shape == (8, 4)  # price (dim 8)


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ('groups { input: "items" mlp { hidden_units: [4] } }', "esmm.groups[0].input: 'items'"),
        ('groups { input: "all" mlp { hidden_units: [4] } } groups { input: "all" '
         "mlp { hidden_units: [4] } }", "esmm.groups[1].input: feature group 'all' is read twice"),
    ],
)  # fmt: skip
def test_bad_esmm_groups_are_config_errors(config_factory, groups, message):
    path = config_factory("esmm", f"model_config {{ esmm {{ {groups} }} }}", features=FEW_FEATURES)
    with pytest.raises(EasymtlError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(str(path))


def test_dense_adagrad_initial_accumulator():
    config = optimizer_pb2.DenseOptimizer()
    config.adagrad_optimizer.initial_accumulator_value = 0.1
    optimizer = build_dense_optimizer(config)
    variable = tf.Variable([1.0, 2.0])
    optimizer.build([variable])
    np.testing.assert_allclose(optimizer.variables[-1].numpy(), [0.1, 0.1])
