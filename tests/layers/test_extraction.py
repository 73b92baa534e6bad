"""ExtractionNetwork (one CGC level) and PLE (a stack of levels)."""

from __future__ import annotations

import numpy as np
import pytest

from easymtl.layers.extraction import PLE, ExtractionNetwork

X = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]], "float32")
MLP4 = {"hidden_units": [4]}


@pytest.mark.parametrize("is_final, outputs", [(True, 2), (False, 3)])
def test_number_and_shape_of_outputs(is_final, outputs):
    level = ExtractionNetwork(2, 2, 1, MLP4, is_final=is_final)
    result = level([X, X, X])
    assert len(result) == outputs
    assert all(tuple(r.shape) == (2, 4) for r in result)


def test_weights_of_every_expert_and_gate_are_tracked():
    level = ExtractionNetwork(2, 3, 2, MLP4, is_final=False)
    level([X, X, X])
    experts = 2 * 3 + 2
    gates = 2 + 1
    assert len(level.trainable_weights) == 2 * (experts + gates)
    # Task gates mix their own 3 experts and the 2 shared; the shared gate mixes all 8.
    assert tuple(level.task_gates[0].logits.kernel.shape) == (3, 5)
    assert tuple(level.share_gate.logits.kernel.shape) == (3, 8)


def test_final_level_has_no_shared_gate():
    level = ExtractionNetwork(2, 1, 1, MLP4, is_final=True)
    level([X, X, X])
    assert level.share_gate is None
    assert len(level.trainable_weights) == 2 * (3 + 2)


def test_identical_experts_give_the_expert_output():
    level = ExtractionNetwork(2, 2, 2, MLP4, is_final=False)
    level.build([X.shape] * 3)
    experts = level.task_experts + level.share_experts
    for expert in experts[1:]:
        expert.set_weights(experts[0].get_weights())
    expert = experts[0](X)
    for output in level([X, X, X]):
        np.testing.assert_allclose(output, expert, rtol=1e-5, atol=1e-6)


def test_task_output_mixes_only_own_and_shared_experts():
    # Task 1's gate mixes task 1's and the shared experts only: task 0's do not matter.
    level = ExtractionNetwork(2, 1, 1, MLP4, is_final=True)
    level.build([X.shape] * 3)
    before = level([X, X, X])[1]
    for w in level.task_experts[0].weights:
        w.assign(np.full(w.shape, 100.0, "float32"))
    np.testing.assert_allclose(level([X, X, X])[1], before)


def test_share_expert_mlp_defaults_to_task_expert_mlp():
    level = ExtractionNetwork(1, 1, 1, {"hidden_units": [6, 4]})
    assert level.share_expert_mlp == {"hidden_units": [6, 4]}


def test_mismatched_last_hidden_units_raise():
    with pytest.raises(ValueError, match="hidden_units"):
        ExtractionNetwork(2, 1, 1, {"hidden_units": [8, 4]}, {"hidden_units": [8]})
    # Without shared experts there is nothing to mix them with.
    ExtractionNetwork(2, 1, 0, {"hidden_units": [8, 4]}, {"hidden_units": [8]})


@pytest.mark.parametrize(
    "args, argument",
    [((0, 1, 1), "`num_tasks`"), ((2, 0, 1), "`expert_num_per_task`"), ((2, 1, -1), "`share_num`")],
)
def test_bad_arguments_raise(args, argument):
    with pytest.raises(ValueError, match=argument):
        ExtractionNetwork(*args, MLP4)


def test_extraction_config_round_trip_gives_same_outputs():
    level = ExtractionNetwork(2, 2, 1, MLP4, {"hidden_units": [5, 4]}, is_final=False)
    expected = level([X, X, X])
    clone = ExtractionNetwork.from_config(level.get_config())
    assert clone.get_config() == level.get_config()
    clone.build([X.shape] * 3)
    clone.set_weights(level.get_weights())
    for got, want in zip(clone([X, X, X]), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6)


LEVELS = [
    {"expert_num_per_task": 2, "share_num": 1, "task_expert_mlp": {"hidden_units": [8]}},
    {"expert_num_per_task": 1, "share_num": 2, "task_expert_mlp": {"hidden_units": [6, 5]}},
]


def test_ple_stacks_levels():
    ple = PLE(2, LEVELS)
    outputs = ple(X)
    assert [tuple(o.shape) for o in outputs] == [(2, 5), (2, 5)]
    assert [n.is_final for n in ple.networks] == [False, True]
    # The second level's experts read the first level's 8-unit outputs.
    assert tuple(ple.networks[1].task_experts[0].dense_layers[0].kernel.shape) == (8, 6)
    assert tuple(ple.networks[1].task_gates[0].logits.kernel.shape) == (8, 3)
    level0 = 2 * (2 * 2 + 1 + 2 + 1)
    level1 = 2 * 2 * (2 * 1 + 2) + 2 * 2
    assert len(ple.trainable_weights) == level0 + level1


def test_ple_with_one_level_equals_a_final_extraction_network():
    ple = PLE(2, LEVELS[:1])
    level = ExtractionNetwork(2, **LEVELS[0], is_final=True)
    expected = ple(X)
    level.build([X.shape] * 3)
    level.set_weights(ple.get_weights())
    for got, want in zip(level([X, X, X]), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_ple_without_levels_raises():
    with pytest.raises(ValueError, match="`levels`"):
        PLE(2, [])


def test_ple_config_round_trip_gives_same_outputs():
    ple = PLE(2, LEVELS)
    expected = ple(X)
    clone = PLE.from_config(ple.get_config())
    assert clone.get_config() == ple.get_config()
    clone.build(X.shape)
    clone.set_weights(ple.get_weights())
    for got, want in zip(clone(X), expected):
        np.testing.assert_allclose(got, want, rtol=1e-6)
