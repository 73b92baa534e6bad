"""TaskTower: optional MLP and a Dense head."""

from __future__ import annotations

import numpy as np
import pytest

from easymtl.layers.tower import TaskTower, tower_outputs

X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 4.0]], "float32")


def test_binary_tower_squeezes_logits():
    tower = TaskTower({"hidden_units": [4]})
    assert tuple(tower(X).shape) == (2,)
    assert [tuple(w.shape) for w in tower.weights] == [(3, 4), (4,), (4, 1), (1,)]


def test_multiclass_tower_shape():
    tower = TaskTower({"hidden_units": [4]}, num_class=3)
    assert tuple(tower(X).shape) == (2, 3)


def test_head_alone_hand_computed():
    tower = TaskTower(None)
    tower.build(X.shape)
    assert tower.mlp is None
    tower.head.kernel.assign(np.array([[1.0], [2.0], [-1.0]], "float32"))
    tower.head.bias.assign(np.array([0.5], "float32"))
    np.testing.assert_allclose(tower(X), [1 + 4 - 3 + 0.5, -1 + 0 - 4 + 0.5])


def test_bad_num_class_raises():
    with pytest.raises(ValueError, match="`num_class`"):
        TaskTower({"hidden_units": [4]}, num_class=0)


@pytest.mark.parametrize("mlp, num_class", [({"hidden_units": [4, 2]}, 1), (None, 3)])
def test_config_round_trip_gives_same_outputs(mlp, num_class):
    tower = TaskTower(mlp, num_class=num_class)
    expected = tower(X)
    clone = TaskTower.from_config(tower.get_config())
    assert clone.get_config() == tower.get_config()
    clone.build(X.shape)
    clone.set_weights(tower.get_weights())
    np.testing.assert_allclose(clone(X), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "num_class, task_type", [(1, "multiclass"), (3, "binary"), (2, "regression"), (1, "ranking")]
)
def test_task_type_must_fit_num_class(num_class, task_type):
    with pytest.raises(ValueError, match="`num_class`|`task_type`"):
        TaskTower(None, num_class=num_class, task_type=task_type)


def test_outputs_by_task_type():
    logits = np.array([[0.0, np.log(3.0)], [1.0, 1.0]], "float32")
    multi = tower_outputs("level", logits, "multiclass")
    # Two classes: also probs1, the class-1 probability, as TorchEasyRec names it.
    assert set(multi) == {"logits_level", "probs_level", "probs1_level"}
    np.testing.assert_allclose(multi["probs_level"], [[0.25, 0.75], [0.5, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(multi["probs1_level"], [0.75, 0.5], rtol=1e-6)
    three = tower_outputs("level", np.zeros((2, 3), "float32"), "multiclass")
    assert set(three) == {"logits_level", "probs_level"}
    ranker = tower_outputs("", logits[:, 0], "binary")  # a single-task ranker's task
    assert set(ranker) == {"logits", "probs"}
    binary = tower_outputs("ctr", logits[:, 0], "binary")
    np.testing.assert_allclose(binary["probs_ctr"], [0.5, 1 / (1 + np.exp(-1))], rtol=1e-6)
    assert set(tower_outputs("dwell", logits[:, 0], "regression")) == {"y_dwell"}


def test_task_type_round_trips():
    tower = TaskTower(None, task_type="regression")
    assert TaskTower.from_config(tower.get_config()).task_type == "regression"
