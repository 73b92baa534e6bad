"""GroupTowers: an MLP per feature group, outputs concatenated (ESMM's groups)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from easymtl.layers.group_towers import GroupTowers


def test_each_group_through_its_mlp_then_concatenated():
    towers = GroupTowers(
        [("user", {"hidden_units": [2], "use_bias": False}), ("item", {"hidden_units": [1]})]
    )
    user, item = np.array([[1.0, 2.0]], "float32"), np.array([[-3.0]], "float32")
    towers.build([user.shape, item.shape])
    for mlp in towers.mlps:
        for dense in mlp.dense_layers:
            dense.kernel.assign(np.ones(dense.kernel.shape, "float32"))
            if dense.use_bias:
                dense.bias.assign(np.full(dense.bias.shape, 4.0, "float32"))
    # user: relu(1 + 2) twice; item: relu(-3 + 4).
    np.testing.assert_allclose(towers([user, item]), [[3.0, 3.0, 1.0]])
    assert towers.group_inputs == ["user", "item"]
    again = GroupTowers.from_config(towers.get_config())
    assert again.get_config() == towers.get_config()


def test_bad_groups_raise():
    with pytest.raises(ValueError, match="must not be empty"):
        GroupTowers([])
    with pytest.raises(ValueError, match="name each group once"):
        GroupTowers([("a", {"hidden_units": [1]}), ("a", {"hidden_units": [1]})])
    with pytest.raises(ValueError, match="Expected 1 inputs"):
        GroupTowers([("a", {"hidden_units": [1]})])([keras.ops.ones((1, 2))] * 2)
