"""VariationalDropout (TorchEasyRec's feature selection by variational dropout)."""

from __future__ import annotations

import csv
import logging

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, make_config

from easymtl.layers.variational_dropout import VariationalDropout


def layer_with(p_logits) -> VariationalDropout:
    vd = VariationalDropout(["a", "b"], regularization_lambda=0.5)
    vd.build([(None, 2), (None, 1)])
    vd.feature_p.assign(np.array(p_logits, "float32"))
    return vd


def test_inference_scales_each_feature_by_one_minus_its_ratio_and_adds_the_penalty():
    vd = layer_with([0.0, np.log(3.0)])  # ratios 0.5 and 0.75
    a, b = vd([tf.ones((4, 2)), tf.ones((4, 1))], training=False)
    np.testing.assert_allclose(a, np.full((4, 2), 0.5), rtol=1e-6)
    np.testing.assert_allclose(b, np.full((4, 1), 0.25), rtol=1e-6)
    # lambda / batch x sum(1 - p) = 0.5 / 4 x (0.5 + 0.25)
    assert float(vd.losses[-1]) == pytest.approx(0.5 / 4 * 0.75, rel=1e-6)
    assert vd.dropout_ratios() == pytest.approx({"a": 0.5, "b": 0.75})


def test_training_samples_relaxed_bernoulli_masks_per_row_and_feature():
    vd = layer_with([-4.0, 4.0])  # ratios 0.018 and 0.982
    a, b = vd([tf.ones((2000, 1)), tf.ones((2000, 1))], training=True)
    # A nearly kept feature stays near 1, a nearly dropped one near 0, row by row.
    assert float(tf.reduce_mean(a)) > 0.95 and float(tf.reduce_mean(b)) < 0.05
    assert float(tf.math.reduce_std(a)) > 0 and float(tf.math.reduce_std(b)) > 0


def test_gradient_reaches_the_ratios():
    vd = layer_with([0.0, 0.0])
    with tf.GradientTape() as tape:
        a, b = vd([tf.ones((3, 2)), tf.ones((3, 1))], training=True)
        loss = tf.reduce_sum(a) + tf.reduce_sum(b) + tf.add_n(vd.losses)
    assert np.all(np.abs(tape.gradient(loss, vd.feature_p)) > 0)


def test_config_round_trip_and_bad_arguments():
    vd = VariationalDropout(["a", "b", "c"], 0.1, name="vd")
    clone = VariationalDropout.from_config(vd.get_config())
    assert clone.get_config() == vd.get_config()
    with pytest.raises(ValueError, match="`feature_names`"):
        VariationalDropout(["a"])
    with pytest.raises(ValueError, match="`regularization_lambda`"):
        VariationalDropout(["a", "b"], -1.0)


@pytest.mark.slow
def test_training_writes_the_feature_dropout_ratios(tmp_path, caplog):
    from easymtl.config import load_config
    from easymtl.runner import Runner

    path = make_config(
        tmp_path,
        "mmoe",
        extra="model_config { variational_dropout { regularization_lambda: 0.1 } } "
        "train_config { num_steps: 5 } data_config { batch_size: 64 }",
        features=FEW_FEATURES,
    )
    config = load_config(str(path))
    with caplog.at_level(logging.INFO, logger="easymtl"):
        runner = Runner(config)
        runner.train()
    assert isinstance(runner.model.features.group_dropouts["all"], keras.layers.Layer)
    with open(f"{config.model_dir}/feature_dropout_ratio_all.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["feature_name"] for r in rows) == sorted(FEW_FEATURES)
    ratios = [float(r["mean_drop_p"]) for r in rows]
    assert ratios == sorted(ratios) and all(0 < r < 1 for r in ratios)
    assert any("variational dropout, group all" in r.getMessage() for r in caplog.records)
