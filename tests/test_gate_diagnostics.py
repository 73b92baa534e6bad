"""Gate diagnostics through the runner: per task and level, each expert's mean gate
weight and the gate entropy in eval_result.json and TensorBoard; a collapsed gate is
reported with a warning."""

from __future__ import annotations

import json
import logging
import math

import numpy as np
import pytest
import tensorflow as tf
from conftest import FEW_FEATURES
from tensorflow.core.util import event_pb2

from easymtl.config import load_config
from easymtl.runner import Runner

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

EXTRA = (
    "train_config { num_steps: 10 } data_config { batch_size: 512 } eval_config { num_steps: 4 }"
)


def _tags(event_dir) -> set[str]:
    tags = set()
    for path in tf.io.gfile.glob(str(event_dir / "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            tags |= {v.tag for v in event.summary.value}
    return tags


def _gates(result: dict) -> dict[str, dict[str, float]]:
    gates: dict[str, dict[str, float]] = {}
    for key, value in result.items():
        if key.startswith("gate/"):
            gate, name = key[len("gate/") :].rsplit("/", 1)
            gates.setdefault(gate, {})[name] = value
    return gates


@pytest.mark.parametrize(
    "model, expected",
    [
        ("mmoe", {"mmoe/ctr": 3, "mmoe/cvr": 3}),
        ("ple", {"l1/ctr": 2, "l1/cvr": 2, "l1/shared": 3, "l2/ctr": 2, "l2/cvr": 2}),
        ("cgc", {"cgc/ctr": 2, "cgc/cvr": 2}),
    ],
)
def test_eval_reports_each_gate(config_factory, tmp_path, model, expected):
    runner = Runner(load_config(str(config_factory(model, EXTRA, features=FEW_FEATURES))))
    runner.train()
    result = runner.evaluate()
    gates = _gates(result)
    assert {g: len(v) - 1 for g, v in gates.items()} == expected  # experts + entropy
    for gate, values in gates.items():
        weights = [v for k, v in values.items() if k != "entropy"]
        assert sum(weights) == pytest.approx(1.0, abs=1e-5), gate
        assert 0.0 <= values["entropy"] <= math.log(len(weights)) + 1e-6, gate
    on_disk = json.loads((tmp_path / "model" / "eval_result.json").read_text())
    assert _gates(on_disk) == gates
    assert {f"gate/{g}/entropy" for g in expected} <= _tags(tmp_path / "model" / "eval")


def test_collapsed_gate_is_reported_and_warned(config_factory, caplog):
    runner = Runner(load_config(str(config_factory("mmoe", EXTRA, features=FEW_FEATURES))))
    runner.train()
    # Force the ctr gate onto expert 2: a large bias on its logit.
    bias = runner.model.backbone.gates[0].logits.bias
    bias.assign(np.array([0.0, 0.0, 50.0], np.float32))
    manager = tf.train.CheckpointManager(
        runner.state.checkpoint, runner.model_dir, max_to_keep=None, checkpoint_name="model.ckpt"
    )
    manager.save(checkpoint_number=int(runner.global_step.numpy()) + 1)
    with caplog.at_level(logging.WARNING, logger="easymtl"):
        result = runner.evaluate()
    assert result["gate/mmoe/ctr/expert_2"] > 0.999
    assert result["gate/mmoe/ctr/entropy"] < 0.01
    assert "gate mmoe/ctr puts 1.000 of its weight on expert_2" in caplog.text
    assert "gate mmoe/cvr" not in caplog.text
