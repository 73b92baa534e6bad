"""Gradient accumulation: N batches accumulated update as one batch of N times the rows."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, make_config

from easymtl.config import load_config
from easymtl.errors import EasymtlError
from easymtl.trainer.accumulation import GradientAccumulator


def test_accumulator_means_the_window_and_marks_the_rows_touched():
    table = tf.Variable(tf.zeros([5, 2]))
    kernel = tf.Variable(tf.zeros([3]))
    acc = GradientAccumulator(2, [table], [kernel])
    # Row 1 in both batches, rows 0 and 3 once; a dense table gradient after.
    acc.add([tf.IndexedSlices(tf.ones([2, 2]), tf.constant([1, 3])), tf.constant([1.0, 2, 3])])
    assert not bool(acc.ready())
    acc.add([tf.IndexedSlices(3 * tf.ones([2, 2]), tf.constant([0, 1])), tf.constant([3.0, 2, 1])])
    assert bool(acc.ready())
    rows, dense = acc.mean()
    order = np.argsort(rows.indices.numpy())
    np.testing.assert_array_equal(rows.indices.numpy()[order], [0, 1, 3])
    np.testing.assert_allclose(rows.values.numpy()[order], [[1.5, 1.5], [2, 2], [0.5, 0.5]])
    np.testing.assert_allclose(dense.numpy(), [2, 2, 2])
    acc.reset()
    assert not bool(acc.ready())
    acc.add([None, tf.constant([1.0, 1, 1])])
    rows, dense = acc.mean()
    assert rows is None
    np.testing.assert_allclose(dense.numpy(), [1, 1, 1])
    assert not acc.rows[0].numpy().any() and not acc.touched[0].numpy().any()


def test_accumulator_refuses_one_step():
    with pytest.raises(ValueError, match="`steps` must be at least 2"):
        GradientAccumulator(1, [], [])


def _trained(tmp_path, name: str, batch_size: int, steps: int, accumulate: int):
    from easymtl.runner import Runner

    extra = (
        f"train_config {{ num_steps: {steps} gradient_accumulation_steps: {accumulate} "
        "sparse_optimizer { sgd_optimizer { lr: 0.5 } } } "
        f"data_config {{ batch_size: {batch_size} shuffle: false }}"
    )
    (tmp_path / name).mkdir()
    path = make_config(tmp_path / name, "mmoe", extra=extra, features=FEW_FEATURES)
    runner = Runner(load_config(str(path)))
    runner.train()
    return runner


@pytest.mark.slow  # two short trainings
def test_two_batches_accumulated_update_as_one_batch_of_twice_the_rows(tmp_path):
    # Sparse SGD and the config's dense Adam: equal gradients, equal updates; 4 batches
    # of 32 make 2 updates, as 2 batches of 64 do.
    one = _trained(tmp_path, "big", 64, 2, 0)
    two = _trained(tmp_path, "accumulated", 32, 4, 2)
    assert int(two.global_step.numpy()) == 4
    assert int(two.state.dense_optimizer.iterations.numpy()) == 2
    for a, b in zip(one.model.variables, two.model.variables, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-6, err_msg=a.path)
    fresh = _trained(tmp_path, "one_update", 32, 3, 2)  # the third batch waits for a fourth
    assert int(fresh.state.dense_optimizer.iterations.numpy()) == 1


def test_accumulation_with_parameter_servers_is_a_config_error(tmp_path):
    from easymtl.ps.runner import PSRunner

    # Refused before the cluster is joined (no TF_CONFIG needed to see it).
    path = make_config(tmp_path, extra="train_config { gradient_accumulation_steps: 4 }")
    with pytest.raises(EasymtlError, match="gradient_accumulation_steps: parameter-server"):
        PSRunner(load_config(str(path)))
