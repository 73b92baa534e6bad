"""Dynamic decay: the weight at step (or epoch) t is omega_0 x gamma^t."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from easymtl.errors import ConfigError
from easymtl.protos import model_pb2
from easymtl.tasks import Task
from easymtl.weighting import build_loss_weighting
from easymtl.weighting.dynamic_decay import DynamicDecay


def tasks(*weights):
    return [Task(f"t{k}", "clk", [], weight=w) for k, w in enumerate(weights)]


def weighting(text: str, *weights):
    config = text_format.Parse(f"loss_weighting {{ {text} }}", model_pb2.ModelConfig())
    return build_loss_weighting(config, tasks(*weights))


@pytest.mark.parametrize("t", [0, 1, 7, 100, 5000])
def test_weight_at_step_t_is_omega0_gamma_to_the_t(t):
    decay = weighting(
        "dynamic_decay { unit: STEP tower_decay { tower_name: 't1' gamma: 0.999 } "
        "tower_decay { tower_name: 't2' gamma: 1.01 } }",
        1.0,
        0.5,
        2.0,
    )
    got = decay.weights(tf.constant(t, tf.int64), tf.constant(99, tf.int64)).numpy()
    gamma = np.float32(0.999)  # the proto field is a float
    np.testing.assert_allclose(got, [1.0, 0.5 * gamma**t, 2.0 * np.float32(1.01) ** t], rtol=1e-6)


def test_epoch_unit_counts_completed_epochs_and_is_the_default():
    decay = weighting("dynamic_decay { tower_decay { tower_name: 't0' gamma: 0.5 } }", 3.0, 1.0)
    assert decay.by_epoch
    step = tf.constant(1000, tf.int64)
    for epoch, expected in [(0, 3.0), (1, 1.5), (4, 3.0 / 16)]:
        got = decay.weights(step, tf.constant(epoch, tf.int64)).numpy()
        np.testing.assert_allclose(got, [expected, 1.0], rtol=1e-7)


@pytest.mark.parametrize(
    "text, field, message",
    [
        ("tower_decay { tower_name: 'nope' gamma: 0.9 }", "tower_decay[0].tower_name", "unknown"),
        ("tower_decay { tower_name: 't0' gamma: 0 }", "tower_decay[0].gamma", "positive"),
        (
            "tower_decay { tower_name: 't0' gamma: 0.9 } tower_decay { tower_name: 't0' gamma: 1 }",
            "tower_decay[1].tower_name",
            "twice",
        ),
    ],
)
def test_bad_decay_is_a_config_error_naming_the_field(text, field, message):
    with pytest.raises(ConfigError, match=message) as e:
        weighting(f"dynamic_decay {{ {text} }}", 1.0, 1.0)
    assert e.value.field == f"model_config.loss_weighting.dynamic_decay.{field}"


def test_gammas_are_validated():
    with pytest.raises(ValueError, match="gammas"):
        DynamicDecay(["a"], [1.0], [-1.0])


def test_unset_block_keeps_the_fixed_tower_weights():
    fixed = build_loss_weighting(model_pb2.ModelConfig(), tasks(1.0, 0.25))
    assert not fixed.task_gradients and not fixed.checkpoint_state()
    step = tf.constant(10, tf.int64)
    np.testing.assert_array_equal(fixed.weights(step, step).numpy(), [1.0, 0.25])
    losses = tf.constant([0.5, 2.0])
    assert float(fixed.total(losses, fixed.weights(step, step))) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="expected a strategy"):
        weighting("", 1.0)
