"""GradNorm: weights sum to K and move toward the task whose loss falls more slowly."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from easymtl.errors import ConfigError
from easymtl.protos import model_pb2
from easymtl.tasks import Task
from easymtl.weighting import build_loss_weighting
from easymtl.weighting.grad_norm import GradNorm


def weights(gn):
    return gn.weights(None, None).numpy()


def test_starting_weights_are_the_tower_weights_renormalised_to_k():
    gn = GradNorm(["a", "b", "c"], [1.0, 2.0, 1.0])
    np.testing.assert_allclose(weights(gn), [0.75, 1.5, 0.75], rtol=1e-6)


def test_weights_sum_to_k_and_move_toward_the_slower_task():
    gn = GradNorm(["fast", "slow"], [1.0, 1.0], alpha=1.5, learning_rate=0.01)
    gn.update(tf.constant([1.0, 1.0]), tf.constant([1.0, 1.0]))  # L(0); equal norms
    np.testing.assert_allclose(weights(gn), [1.0, 1.0], atol=1e-6)
    previous = weights(gn)
    for t in range(1, 30):
        # "fast" halves its loss quickly; "slow" barely moves; G_k = w_k x the same norm.
        losses = tf.constant([0.5**t, 0.99**t])
        gn.update(losses, tf.constant(weights(gn) * 2.0))
        w = weights(gn)
        assert w.sum() == pytest.approx(2.0, rel=1e-6)
        assert w[1] > previous[1] and w[0] < previous[0], (t, w, previous)
        previous = w
    assert w[1] > 1.2


def test_balanced_tasks_balance_the_gradient_norms():
    gn = GradNorm(["a", "b"], [1.0, 1.0], alpha=0.0, learning_rate=0.01)
    norms = np.array([4.0, 1.0])  # unweighted gradient norms: a's four times b's
    for _ in range(300):
        gn.update(tf.constant([1.0, 1.0]), tf.constant(weights(gn) * norms, tf.float32))
    w = weights(gn)
    assert w.sum() == pytest.approx(2.0, rel=1e-6)
    # Equal weighted norms w_a x 4 = w_b x 1 at w = [0.4, 1.6] (within Adam's step).
    np.testing.assert_allclose(w, [0.4, 1.6], atol=0.05)


def test_weights_stay_positive():
    gn = GradNorm(["a", "b"], [1.0, 1.0], alpha=0.0, learning_rate=0.5)
    for _ in range(50):
        gn.update(tf.constant([1.0, 1.0]), tf.constant(weights(gn) * [100.0, 0.01], tf.float32))
    assert (weights(gn) > 0).all() and weights(gn).sum() == pytest.approx(2.0, rel=1e-6)


def test_options_are_checked():
    config = model_pb2.ModelConfig()
    config.loss_weighting.grad_norm.lr = -1
    tasks = [Task("a", "clk", []), Task("b", "buy", [])]
    with pytest.raises(ConfigError, match="lr"):
        build_loss_weighting(config, tasks)
    config.loss_weighting.grad_norm.lr = 0.01
    with pytest.raises(ConfigError, match="two task towers"):
        build_loss_weighting(config, tasks[:1])
