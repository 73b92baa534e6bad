"""MMoE: shared experts mixed per task by softmax gates."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from easymtl.layers.mmoe import MMoE, _Gate, mix

X = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]], "float32")


def same_weights(layers) -> None:
    """Copies the first layer's weights into the others."""
    for layer in layers[1:]:
        layer.set_weights(layers[0].get_weights())


def test_output_and_weight_shapes():
    mmoe = MMoE(2, 3, expert_mlp={"hidden_units": [4]})
    outputs = mmoe(X)
    assert [tuple(o.shape) for o in outputs] == [(2, 4), (2, 4)]
    assert [tuple(w.shape) for w in mmoe.experts[0].weights] == [(3, 4), (4,)]
    assert [tuple(w.shape) for w in mmoe.gates[1].weights] == [(3, 3), (3,)]
    assert len(mmoe.trainable_weights) == 3 * 2 + 2 * 2


def test_gate_rows_are_softmax():
    gate = _Gate(4)
    weights = keras.ops.convert_to_numpy(gate(X))
    assert weights.shape == (2, 4)
    assert (weights > 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), [1.0, 1.0], rtol=1e-6)


def test_identical_experts_give_the_expert_output():
    mmoe = MMoE(2, 3, expert_mlp={"hidden_units": [4]})
    mmoe.build(X.shape)
    same_weights(mmoe.experts)
    expert = mmoe.experts[0](X)
    for output in mmoe(X):
        np.testing.assert_allclose(output, expert, rtol=1e-5, atol=1e-6)


def test_zero_gate_logits_average_the_experts():
    mmoe = MMoE(1, 2, expert_mlp={"hidden_units": [2]})
    mmoe.build(X.shape)
    for w in mmoe.gates[0].weights:
        w.assign(np.zeros(w.shape, "float32"))
    experts = [keras.ops.convert_to_numpy(e(X)) for e in mmoe.experts]
    np.testing.assert_allclose(mmoe(X)[0], (experts[0] + experts[1]) / 2, rtol=1e-5)


def test_mix_is_the_weighted_sum():
    experts = np.array([[[1.0, 2.0], [10.0, 20.0]]], "float32")  # [batch 1, 2 experts, dim 2]
    np.testing.assert_allclose(mix(experts, np.array([[0.25, 0.75]], "float32")), [[7.75, 15.5]])


def test_gate_mlp():
    mmoe = MMoE(2, 3, expert_mlp={"hidden_units": [4]}, gate_mlp={"hidden_units": [5]})
    mmoe(X)
    gate = mmoe.gates[0]
    assert [tuple(w.shape) for w in gate.weights] == [(3, 5), (5,), (5, 3), (3,)]


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_tasks": 0, "num_expert": 2}, "`num_tasks`"),
        ({"num_tasks": 2, "num_expert": 0}, "`num_expert`"),
    ],
)
def test_bad_arguments_raise(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        MMoE(**kwargs, expert_mlp={"hidden_units": [4]})


def test_config_round_trip_gives_same_outputs():
    mmoe = MMoE(2, 2, expert_mlp={"hidden_units": [4, 3]}, gate_mlp={"hidden_units": [2]})
    expected = mmoe(X)
    clone = MMoE.from_config(mmoe.get_config())
    assert clone.get_config() == mmoe.get_config()
    clone.build(X.shape)
    clone.set_weights(mmoe.get_weights())
    for got, want in zip(clone(X), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_share_gate_gives_every_task_the_same_mix():
    omoe = MMoE(3, 2, expert_mlp={"hidden_units": [4]}, share_gate=True)
    outputs = omoe(X)
    assert len(omoe.gates) == 1 and len(outputs) == 3
    for output in outputs[1:]:
        np.testing.assert_allclose(output, outputs[0])
    assert MMoE.from_config(omoe.get_config()).get_config() == omoe.get_config()
