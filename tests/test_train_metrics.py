"""train_metrics (TorchEasyRec's): decayed metrics over training batches, logged and in
TensorBoard."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, make_config
from google.protobuf import text_format

from easymtl.config import load_config
from easymtl.errors import ConfigError
from easymtl.protos import tower_pb2
from easymtl.tasks import build_task
from easymtl.testing import exact_auc


def tower(text: str):
    return text_format.Parse(
        f'tower_name: "t" label_name: "y" losses {{ binary_cross_entropy {{}} }} {text}',
        tower_pb2.TaskTower(),
    )


def test_decayed_auc_follows_torcheasyrec_decay_auc():
    """Histograms: the first decay takes the gathered ones, later ones mix them
    0.5 / 0.5; the value is the AUC of the mixed histograms."""
    task = build_task(
        tower("train_metrics { auc { thresholds: 1000 } decay_rate: 0.5 decay_step: 2 }")
    )
    [metric] = [build() for build in task.train_metric_builders]
    assert metric.name == "auc_t"
    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, 2, 50).astype(np.float32), rng.random(50)) for _ in range(4)]
    metric.update(*batches[0])
    assert metric.value == 0.0  # before the first decay_step steps
    metric.update(*batches[1])
    y01, p01 = (np.concatenate([b[k] for b in batches[:2]]) for k in (0, 1))
    assert metric.value == pytest.approx(exact_auc(y01, p01), abs=5e-3)
    metric.update(*batches[2])
    metric.update(*batches[3])
    # 0.5 x batches 0-1 + 0.5 x batches 2-3: equal weights, so the AUC of all four.
    y, p = (np.concatenate([b[k] for b in batches]) for k in (0, 1))
    assert metric.value == pytest.approx(exact_auc(y, p), abs=5e-3)


def test_decayed_mean_metric():
    task = build_task(
        text_format.Parse(
            'tower_name: "t" label_name: "y" losses { l2_loss {} } '
            "train_metrics { mean_absolute_error {} decay_rate: 0.75 decay_step: 1 }",
            tower_pb2.TaskTower(),
        )
    )
    [metric] = [build() for build in task.train_metric_builders]
    metric.update(tf.constant([0.0, 0.0]), tf.constant([1.0, 3.0]))  # MAE 2: the first
    assert metric.value == pytest.approx(2.0)
    metric.update(tf.constant([0.0]), tf.constant([6.0]))  # MAE 6
    assert metric.value == pytest.approx(0.75 * 2.0 + 0.25 * 6.0)


@pytest.mark.parametrize(
    "text, field, words",
    [
        ("train_metrics { }", "t.train_metrics[0]", "expected a metric"),
        ("train_metrics { mean_squared_error {} }", "t.train_metrics[0].mean_squared_error",
         "does not apply to a binary tower"),
        ("train_metrics { auc {} decay_step: 0 }", "t.train_metrics[0].decay_step", "positive"),
        ("train_metrics { auc {} decay_rate: 2 }", "t.train_metrics[0].decay_rate", "[0, 1]"),
    ],
)  # fmt: skip
def test_bad_train_metric_is_a_config_error(text, field, words):
    with pytest.raises(ConfigError) as e:
        build_task(tower(text), where="t")
    assert e.value.field == field and words in e.value.message


@pytest.mark.slow
def test_train_metrics_are_logged_and_in_tensorboard(tmp_path, caplog):
    from easymtl.runner import Runner
    from tests.test_train_log import scalars

    path = make_config(
        tmp_path,
        "simple_multi_task",
        extra="train_config { num_steps: 8 log_step_count_steps: 4 } "
        "data_config { batch_size: 64 }",
        features=FEW_FEATURES,
    )
    config = load_config(str(path))
    ctr = config.model_config.simple_multi_task.task_towers[0]
    text_format.Merge("train_metrics { auc {} decay_step: 2 }", ctr)
    with caplog.at_level(logging.INFO, logger="easymtl"):
        Runner(config).train()
    lines = [r.getMessage() for r in caplog.records if "auc_ctr" in r.getMessage()]
    assert [line.split()[1] for line in lines] == ["4", "8"], lines
    assert 0.0 < float(lines[-1].split()[-1]) < 1.0
    assert scalars(f"{config.model_dir}/train")["metric/auc_ctr"] == [4, 8]
