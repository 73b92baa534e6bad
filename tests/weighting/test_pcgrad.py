"""PCGrad: projected task gradients do not conflict; tower-only variables get exactly
their own task's gradient."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from easymtl.config import load_config
from easymtl.errors import ConfigError
from easymtl.runner import Runner
from easymtl.weighting.pcgrad import PCGrad, project

ORDER_2 = tf.constant([[0, 1], [1, 0]])


def dot(a, b) -> float:
    return float(sum(tf.reduce_sum(x * y) for x, y in zip(a, b)))


def as_grads(*vectors):
    """Each task's gradient as two variables' gradients: a [2] and a [1, 2] tensor."""
    return [[tf.constant(v[:2], tf.float32), tf.constant([v[2:]], tf.float32)] for v in vectors]


def test_conflicting_pair_by_hand():
    g1, g2 = as_grads([1.0, 0.0, 0.0, 0.0], [-1.0, 1.0, 0.0, 0.0])
    (p1, p2) = project([g1, g2], ORDER_2)
    # g1.g2 = -1: g1 - (-1 / 2) g2 = [0.5, 0.5, 0, 0]; g2 - (-1 / 1) g1 = [0, 1, 0, 0].
    np.testing.assert_allclose(np.concatenate([t.numpy().ravel() for t in p1]), [0.5, 0.5, 0, 0])
    np.testing.assert_allclose(np.concatenate([t.numpy().ravel() for t in p2]), [0, 1, 0, 0])
    assert dot(p1, g2) == pytest.approx(0.0, abs=1e-7) and dot(p2, g1) == pytest.approx(0.0)


def test_agreeing_gradients_are_left_alone():
    g1, g2 = as_grads([1.0, 2.0, 0.0, 1.0], [0.5, 0.0, 3.0, 0.0])
    for p, g in zip(project([g1, g2], ORDER_2), (g1, g2)):
        for a, b in zip(p, g):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("seed", range(20))
def test_projected_gradients_have_no_negative_dot_product(seed):
    rng = np.random.default_rng(seed)
    g1 = rng.normal(size=4)
    g2 = -g1 + 0.5 * rng.normal(size=4)  # mostly conflicting
    grads = as_grads(g1, g2)
    p1, p2 = project(grads, ORDER_2)
    assert dot(grads[0], grads[1]) < 0
    tol = 1e-5 * (np.linalg.norm(g1) * np.linalg.norm(g2))
    assert dot(p1, grads[1]) >= -tol and dot(p2, grads[0]) >= -tol
    assert dot(p1, p2) >= -tol


def test_three_tasks_each_projection_in_its_order():
    # g0 conflicts with g1 only; g2 agrees with both.
    g0, g1, g2 = as_grads([1.0, 0.0, 0.0, 0.0], [-1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0])
    orders = tf.constant([[2, 1, 0], [0, 2, 1], [1, 0, 2]])
    p0, p1, p2 = project([g0, g1, g2], orders)
    for p, others in ((p0, (g1, g2)), (p1, (g0, g2)), (p2, (g0, g1))):
        for g in others:
            assert dot(p, g) >= -1e-6
    strategy = PCGrad(["a", "b", "c"], [1.0, 1.0, 1.0])
    combined = strategy.combine([g0, g1, g2], tf.constant(3, tf.int64))
    # With one conflicting pair the order does not matter: the sum of the projections.
    for c, parts in zip(combined, zip(p0, p1, p2)):
        np.testing.assert_allclose(c.numpy(), sum(x.numpy() for x in parts), atol=1e-6)


@pytest.fixture
def runner(config_factory):
    path = config_factory(
        "shared_bottom",
        "model_config { loss_weighting { pcgrad {} } } data_config { batch_size: 64 }",
    )
    config = load_config(str(path))
    config.model_config.shared_bottom.task_towers[1].weight = 0.5
    return Runner(config)


def test_runner_projects_shared_and_passes_tower_gradients_through(runner):
    shared = {v.path for v in runner.shared_vars}
    assert shared and all(p.startswith("shared_bottom/") for p in shared), shared
    assert not any(p.startswith("shared_bottom/tower_") for p in shared), shared

    batch = next(iter(runner.build_dataset(True)))
    features, labels = runner.split(batch)
    step = runner.train_step.gradients(features, labels)
    assert not bool(tf.reduce_any(step.non_finite))
    np.testing.assert_allclose(step.weights.numpy(), [1.0, 0.5])
    variables = runner.state.embedding_vars + runner.state.dense_vars
    by_path = dict(zip((v.path for v in variables), step.gradients))

    with tf.GradientTape(persistent=True) as tape:
        outputs = runner.model(features, training=True)
        losses = [t.weight * t.loss(labels, outputs) for t in runner.tasks]
    task_shared = [tape.gradient(loss, runner.shared_vars) for loss in losses]
    for task, loss in zip(runner.tasks, losses):
        tower = [
            v
            for v in runner.state.dense_vars
            if v.path.startswith(f"shared_bottom/tower_{task.name}/")
        ]
        assert tower
        for v, g in zip(tower, tape.gradient(loss, tower)):
            np.testing.assert_array_equal(by_path[v.path].numpy(), g.numpy())
    projected = project(task_shared, ORDER_2)
    for i, v in enumerate(runner.shared_vars):
        np.testing.assert_allclose(
            by_path[v.path].numpy(), (projected[0][i] + projected[1][i]).numpy(), atol=1e-6
        )
    np.testing.assert_allclose(
        step.grad_norms.numpy(), [tf.linalg.global_norm(g).numpy() for g in task_shared], rtol=1e-5
    )


def test_towers_sharing_only_embeddings_is_a_config_error(config_factory):
    path = config_factory("simple_multi_task", "model_config { loss_weighting { pcgrad {} } }")
    with pytest.raises(ConfigError, match="no dense parameter is shared"):
        Runner(load_config(str(path)))
