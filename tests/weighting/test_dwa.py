"""DWA: weights from the ratio of the last two windows' mean losses."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from easymtl.errors import ConfigError
from easymtl.protos import model_pb2
from easymtl.tasks import Task
from easymtl.weighting import build_loss_weighting
from easymtl.weighting.dwa import DynamicWeightAverage


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def weights(dwa):
    return dwa.weights(None, None).numpy()


def test_weights_from_a_hand_made_loss_history():
    dwa = DynamicWeightAverage(["a", "b", "c"], [1.0, 1.0, 2.0], temperature=2.0, window_steps=2)
    history = [
        [1.0, 2.0, 0.5],
        [3.0, 2.0, 0.5],  # window 1 means: 2.0, 2.0, 0.5
        [1.0, 1.0, 0.5],
        [1.0, 2.0, 0.7],  # window 2 means: 1.0, 1.5, 0.6
        [0.5, 0.5, 0.5],  # the running window does not count yet
    ]
    for step, losses in enumerate(history):
        if step < 4:  # until two windows are complete: the tower weights
            np.testing.assert_allclose(weights(dwa), [1.0, 1.0, 2.0], rtol=1e-6)
        dwa.update(tf.constant(losses), tf.zeros([3]))
    ratio = np.array([1.0 / 2.0, 1.5 / 2.0, 0.6 / 0.5])
    expected = np.array([1.0, 1.0, 2.0]) * 3 * softmax(ratio / 2.0)
    np.testing.assert_allclose(weights(dwa), expected, rtol=1e-6)
    # The task whose loss fell least (c, it rose) gets the largest DWA factor.
    assert np.argmax(weights(dwa) / [1.0, 1.0, 2.0]) == 2

    # One more step closes window 3 (means 0.5, 1.0, 0.5): ratios against window 2.
    dwa.update(tf.constant([0.5, 1.5, 0.5]), tf.zeros([3]))
    ratio = np.array([0.5 / 1.0, 1.0 / 1.5, 0.5 / 0.6])
    np.testing.assert_allclose(
        weights(dwa), np.array([1.0, 1.0, 2.0]) * 3 * softmax(ratio / 2.0), rtol=1e-6
    )


def test_equal_ratios_give_equal_weights_summing_to_k():
    dwa = DynamicWeightAverage(["a", "b"], [1.0, 1.0], window_steps=1)
    for losses in ([2.0, 4.0], [1.0, 2.0]):
        dwa.update(tf.constant(losses), tf.zeros([2]))
    np.testing.assert_allclose(weights(dwa), [1.0, 1.0], rtol=1e-6)


def test_state_is_checkpointed_by_tower(tmp_path):
    dwa = DynamicWeightAverage(["a", "b"], [1.0, 1.0], window_steps=1)
    for losses in ([1.0, 1.0], [0.5, 1.0]):
        dwa.update(tf.constant(losses), tf.zeros([2]))
    path = tf.train.Checkpoint(w=dwa.checkpoint_state()).write(str(tmp_path / "ckpt"))
    again = DynamicWeightAverage(["b", "a"], [1.0, 1.0], window_steps=1)  # towers reordered
    tf.train.Checkpoint(w=again.checkpoint_state()).read(path).assert_consumed()
    np.testing.assert_allclose(weights(again), weights(dwa)[::-1], rtol=1e-6)


@pytest.mark.parametrize(
    "text, message", [("temperature: 0", "temperature"), ("window_steps: 0", "window_steps")]
)
def test_bad_options_are_config_errors(text, message):
    config = model_pb2.ModelConfig()
    config.loss_weighting.dwa.SetInParent()
    text_format.Merge(text, config.loss_weighting.dwa)
    with pytest.raises(ConfigError, match=message) as e:
        build_loss_weighting(config, [Task("a", "clk", [])])
    assert e.value.field == "model_config.loss_weighting.dwa"
