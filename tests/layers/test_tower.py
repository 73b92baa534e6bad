"""TaskTower: optional MLP and a Dense head."""

from __future__ import annotations

import numpy as np
import pytest

from easymtl.layers.tower import TaskTower

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
