"""BatchNormalization in the fused kernel: Keras's outputs, gradients and moving
statistics, in a third of the traced graph."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from easymtl.layers.batch_norm import BatchNormalization
from easymtl.layers.mlp import MLP


def _pair(shape, **kwargs):
    """Keras's layer and ours, built for `shape`, with the same random weights."""
    ours, theirs = BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    ours.build(shape), theirs.build(shape)
    for seed, (a, b) in enumerate(zip(ours.weights, theirs.weights)):
        value = tf.random.stateless_uniform(a.shape, [seed, 1], 0.5, 1.5)
        a.assign(value), b.assign(value)
    return ours, theirs


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((64, 16), {}),
        ((8, 5, 6), {"momentum": 0.9, "center": False, "scale": False}),  # Dice's, per step
    ],
)
def test_outputs_gradients_and_moving_statistics_are_keras_own(shape, kwargs):
    ours, theirs = _pair(shape, **kwargs)
    x = tf.random.stateless_normal(shape, [1, 2]) * 3.0 + 1.0
    for training in (True, True, False):
        results = []
        for layer in (ours, theirs):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=training)
                loss = tf.reduce_sum(y * tf.sin(y))
            results.append((y, tape.gradient(loss, [x, *layer.trainable_weights])))
        (y, grads), (expected, expected_grads) = results
        np.testing.assert_allclose(y, expected, atol=2e-6)
        for g, e in zip(grads, expected_grads):
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)
        for a, b in zip(ours.non_trainable_weights, theirs.non_trainable_weights):
            np.testing.assert_allclose(a, b, atol=1e-6)  # moved twice, then read
    moved = ours.moving_variance.numpy()
    assert not np.allclose(moved, 1.0)  # the statistics did move (biased variance)


def test_a_train_step_traces_a_third_of_kerass_graph():
    def step_ops(layer) -> int:
        kernel = tf.Variable(tf.ones([16, 16]))

        def step(x):
            with tf.GradientTape() as tape:
                y = layer(tf.matmul(x, kernel), training=True)
                loss = tf.reduce_sum(y * y)
            return tape.gradient(loss, [kernel, *layer.trainable_weights])

        graph = tf.function(step).get_concrete_function(tf.TensorSpec([None, 16])).graph
        return len(graph.get_operations())

    ours, theirs = _pair((None, 16))
    kinds = {op.type for op in tf.function(lambda x: ours(x, training=True))
             .get_concrete_function(tf.TensorSpec([None, 16])).graph.get_operations()}  # fmt: skip
    assert "FusedBatchNormV3" in kinds
    # The step's own ops (matmul, loss, their gradients) are about 20 of each count.
    assert step_ops(ours) - 20 < (step_ops(theirs) - 20) / 2, (step_ops(ours), step_ops(theirs))


def test_what_the_kernel_cannot_do_runs_kerass_call():
    # Under the kernel's smallest epsilon, or over another axis: Keras's own ops, same values.
    for kwargs, shape in (({"epsilon": 1e-6}, (4, 3)), ({"axis": 1}, (4, 3, 2))):
        ours, theirs = _pair(shape, **kwargs)
        x = tf.random.stateless_normal(shape, [3, 4])
        np.testing.assert_array_equal(ours(x, training=True), theirs(x, training=True))


def test_an_mlp_normalizes_with_it_and_restores_a_checkpoint_of_kerass(tmp_path, monkeypatch):
    """A model trained before (its MLPs normalized by Keras's layer) restores as it was:
    the same variables at the same paths (what easymtl's checkpoints key them by)."""
    import easymtl.layers.mlp as mlp_module
    from easymtl.checkpoints import model_variables

    with monkeypatch.context() as m:
        m.setattr(mlp_module, "BatchNormalization", keras.layers.BatchNormalization)
        before = MLP([4, 2], use_bn=True, name="tower")
        before.build((None, 3))
    for i, w in enumerate(before.weights):
        w.assign(tf.fill(w.shape, float(i + 1)))
    path = tf.train.Checkpoint(**model_variables(before)).write(str(tmp_path / "ckpt"))
    after = MLP([4, 2], use_bn=True, name="tower")
    after.build((None, 3))
    assert all(isinstance(n, BatchNormalization) for n in after.norm_layers)
    tf.train.Checkpoint(**model_variables(after)).read(path).assert_consumed()
    for a, b in zip(after.weights, before.weights):
        assert a.path == b.path
        np.testing.assert_array_equal(a, b)
