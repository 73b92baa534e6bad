"""Gates: temperature and dropout, gate weights out of MMoE and PLE, experts initialised
independently, and the gate statistics evaluation reports (entropy, collapse warning)."""

from __future__ import annotations

import logging
import math

import keras
import numpy as np
import pytest

from easymtl.layers.extraction import PLE
from easymtl.layers.mmoe import MMoE, _Gate
from easymtl.metrics.gates import GateStats, collapsed_expert, gate_results, warn_collapsed

X = np.random.default_rng(0).normal(size=(64, 5)).astype("float32")


def test_temperature_divides_the_logits():
    gate = _Gate(4, temperature=2.0)
    gate.build(X.shape)
    logits = keras.ops.convert_to_numpy(gate.logits(X))
    expected = np.exp(logits / 2) / np.exp(logits / 2).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(gate(X), expected, rtol=1e-5)


def test_dropout_leaves_experts_out_in_training_only():
    gate = _Gate(3, dropout_ratio=0.5)
    plain = keras.ops.convert_to_numpy(gate(X))
    np.testing.assert_allclose(gate(X, training=False), plain)
    dropped = keras.ops.convert_to_numpy(gate(X, training=True))
    np.testing.assert_allclose(dropped.sum(axis=1), 1.0, rtol=1e-5)
    zeros = (dropped < 1e-12).mean()
    assert 0.3 < zeros < 0.6, zeros  # about half, less the rows that would lose all
    assert (dropped.max(axis=1) > 0).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [({"temperature": 0.0}, "temperature"), ({"dropout_ratio": 1.0}, "dropout_ratio")],
)
def test_gate_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _Gate(3, **kwargs)


def test_mmoe_returns_its_gates_and_round_trips():
    mmoe = MMoE(
        2, 3, {"hidden_units": [4]}, gate_temperature=1.5, gate_dropout_ratio=0.1, name="mmoe"
    )
    mixes, gates = mmoe(X, return_gates=True)
    assert len(mixes) == 2 and [tuple(g.shape) for g in gates] == [(64, 3), (64, 3)]
    assert (
        mmoe.gate_specs()
        == [
            ("mmoe", 0, ["expert_0", "expert_1", "expert_2"]),
            ("mmoe", 1, ["expert_0", "expert_1", "expert_2"]),
        ]
        or mmoe.gate_specs()[0][0] == mmoe.name
    )
    again = MMoE.from_config(mmoe.get_config())
    assert (again.gate_temperature, again.gate_dropout_ratio) == (1.5, 0.1)
    assert again.gates[0].temperature == 1.5
    omoe = MMoE(2, 3, {"hidden_units": [4]}, share_gate=True, name="omoe")
    assert [task for _, task, _ in omoe.gate_specs()] == [None]
    assert len(omoe(X, return_gates=True)[1]) == 1


def test_experts_are_initialised_independently():
    mmoe = MMoE(2, 3, {"hidden_units": [8]})
    mmoe.build(X.shape)
    kernels = [keras.ops.convert_to_numpy(e.dense_layers[0].kernel) for e in mmoe.experts]
    for i in range(3):
        for j in range(i):
            assert not np.allclose(kernels[i], kernels[j])
    ple = PLE(
        2, [{"expert_num_per_task": 2, "share_num": 1, "task_expert_mlp": {"hidden_units": [8]}}]
    )
    ple.build(X.shape)
    (level,) = ple.networks
    kernels = [
        keras.ops.convert_to_numpy(e.dense_layers[0].kernel)
        for e in level.task_experts + level.share_experts
    ]
    assert len({k.tobytes() for k in kernels}) == len(kernels) == 5


def test_ple_gates_per_level_with_the_shared_gate_below_the_top():
    ple = PLE(
        2,
        [
            {"expert_num_per_task": 1, "share_num": 1, "task_expert_mlp": {"hidden_units": [8]}},
            {"expert_num_per_task": 2, "share_num": 1, "task_expert_mlp": {"hidden_units": [4]}},
        ],
        level_names=["low", "high"],
    )
    outputs, gates = ple(X, return_gates=True)
    specs = ple.gate_specs()
    assert [(level, task) for level, task, _ in specs] == [
        ("low", 0), ("low", 1), ("low", None), ("high", 0), ("high", 1),
    ]  # fmt: skip
    assert specs[2][2] == ["task0_expert_0", "task1_expert_0", "share_expert_0"]
    assert specs[4][2] == ["task1_expert_0", "task1_expert_1", "share_expert_0"]
    assert [g.shape[1] for g in gates] == [len(experts) for _, _, experts in specs]
    assert PLE.from_config(ple.get_config()).level_names == ["low", "high"]
    with pytest.raises(ValueError, match="level_names"):
        PLE(2, ple.levels, level_names=["one"])


def test_uniform_gate_entropy_is_log_num_experts():
    for n in (2, 3, 8):
        stats = GateStats([f"e{i}" for i in range(n)])
        stats.update_state(np.full((10, n), 1.0 / n))
        result = stats.result()
        assert float(result["entropy"]) == pytest.approx(math.log(n), rel=1e-6)
        assert float(result["e0"]) == pytest.approx(1.0 / n)
        assert collapsed_expert(stats) is None


def test_collapsed_gate_warns(caplog):
    collapsed = GateStats(["expert_0", "expert_1", "expert_2"])
    collapsed.update_state([[0.01, 0.98, 0.01]] * 5 + [[0.1, 0.8, 0.1]])
    healthy = GateStats(["expert_0", "expert_1"])
    healthy.update_state([[0.99, 0.01], [0.01, 0.99]])  # each row sure, the mean balanced
    single = GateStats(["expert_0"])
    single.update_state([[1.0], [1.0]])
    with caplog.at_level(logging.WARNING, logger="easymtl"):
        names = warn_collapsed({"mmoe/ctr": collapsed, "mmoe/cvr": healthy, "l/x": single})
    assert names == ["mmoe/ctr"]
    assert "gate mmoe/ctr puts 0.950 of its weight on expert_1" in caplog.text
    assert "gate_temperature" in caplog.text
    results = gate_results("mmoe/ctr", collapsed)
    assert set(results) == {f"gate/mmoe/ctr/expert_{i}" for i in range(3)} | {
        "gate/mmoe/ctr/entropy"
    }
    assert results["gate/mmoe/ctr/expert_1"] == pytest.approx(0.95)
