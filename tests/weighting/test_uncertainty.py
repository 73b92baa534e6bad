"""Uncertainty weighting: total = sum exp(-s_k) L_k + s_k; the s_k get gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from easymtl.errors import ConfigError
from easymtl.protos import model_pb2
from easymtl.tasks import Task
from easymtl.weighting import build_loss_weighting
from easymtl.weighting.uncertainty import UncertaintyWeighting


def test_total_and_gradients_of_the_log_variances():
    u = UncertaintyWeighting(["ctr", "cvr"], [1.0, 0.5])
    s = [float(v.numpy()) for v in u.log_variances]
    assert s == pytest.approx([0.0, math.log(2.0)])  # weights start at the tower weights
    losses = tf.constant([0.3, 2.0])
    with tf.GradientTape() as tape:
        total = u.total(losses, u.weights(None, None))
    np.testing.assert_allclose(u.weights(None, None).numpy(), [1.0, 0.5], rtol=1e-6)
    assert float(total) == pytest.approx(0.3 + 0.5 * 2.0 + math.log(2.0), rel=1e-6)
    grads = tape.gradient(total, u.trainable_variables)
    # d/ds (exp(-s) L + s) = 1 - exp(-s) L
    np.testing.assert_allclose([float(g) for g in grads], [1 - 0.3, 1 - 0.5 * 2.0], atol=1e-6)


def test_gradient_descent_moves_s_to_log_of_the_loss():
    u = UncertaintyWeighting(["a"], [1.0])
    losses = tf.constant([0.25])
    for _ in range(200):
        with tf.GradientTape() as tape:
            total = u.total(losses, u.weights(None, None))
        (grad,) = tape.gradient(total, u.trainable_variables)
        u.log_variances[0].assign_sub(0.5 * grad)
    assert float(u.log_variances[0]) == pytest.approx(math.log(0.25), abs=1e-3)
    assert float(u.weights(None, None)[0]) == pytest.approx(4.0, rel=1e-3)


def test_needs_positive_tower_weights():
    config = model_pb2.ModelConfig()
    config.loss_weighting.uncertainty.SetInParent()
    tasks = [Task("ctr", "clk", [], weight=1.0), Task("cvr", "buy", [], weight=0.0)]
    with pytest.raises(ConfigError, match="'cvr' has 0.0"):
        build_loss_weighting(config, tasks)
