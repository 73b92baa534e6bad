"""Evaluation while training, best export and retention, early stopping: one short run
that evaluates every 2 steps, exports the best, keeps its checkpoint beyond
keep_checkpoint_max and stops early; and the rules on given results."""

from __future__ import annotations

import math
import os

import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, make_config

from easymtl import lifecycle
from easymtl.config import load_config
from easymtl.disk import read_json
from easymtl.errors import ConfigError
from easymtl.lifecycle import history
from easymtl.lifecycle.early_stop import EarlyStop
from easymtl.lifecycle.metric import BestMetric
from easymtl.lifecycle.runs import Run
from easymtl.runner import Runner

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

# "loss" with larger_is_better: a metric that gets worse as the model learns, so that the
# first evaluation is the best and the stop after early_stop_patience more is certain.
RUN = """
train_config { num_steps: 40 save_checkpoints_steps: 2 keep_checkpoint_max: 1 }
data_config { batch_size: 32 }
eval_config { num_steps: 4 eval_interval_steps: 2 }
export_config { exporter_type: "best" best_exporter_metric: "loss"
    metric_larger_is_better: true exports_to_keep: 1
    enable_early_stop: true early_stop_patience: 2 }
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("life")
    config = load_config(str(make_config(tmp, "mmoe", RUN, features=FEW_FEATURES)))
    runner = Runner(config, callbacks=lifecycle.callbacks(config))
    step = runner.train()
    lifecycle.after_training(runner, step)
    return config, runner, step


def test_evaluates_every_interval_and_stops_early(trained):
    config, runner, step = trained
    entries = history.read(config.model_dir)
    # Evaluations at 2, 4, 6; the loss fell twice after the first: stopped at 6.
    assert [e["global_step"] for e in entries] == [2, 4, 6], entries
    assert entries[0]["loss"] > entries[1]["loss"] and entries[0]["loss"] > entries[2]["loss"]
    assert step == 6
    assert all(e["num_examples"] == 4 * 32 for e in entries)  # eval_config.num_steps
    assert all(
        e["run"] == 1 and e["checkpoint"] == f"model.ckpt-{e['global_step']}" for e in entries
    )
    reason = runner.stop_reason
    assert reason.startswith("early stop: loss has not improved in 2 evaluations")
    assert "at step 2" in reason and "early_stop_patience: 2" in reason
    (run,) = read_json(os.path.join(config.model_dir, "runs.json"))
    assert run["end_step"] == 6 and run["stop_reason"] == reason
    # The last evaluation is eval_result.json; TensorBoard has an event per evaluation.
    result = read_json(os.path.join(config.model_dir, "eval_result.json"))
    assert result["global_step"] == 6
    events = tf.io.gfile.glob(os.path.join(config.model_dir, "eval", "events.*"))
    steps = set()
    for path in events:
        for event in tf.compat.v1.train.summary_iterator(path):
            if any(v.tag == "loss" for v in event.summary.value):
                steps.add(event.step)
    assert steps == {2, 4, 6}


def test_best_is_exported_and_its_checkpoint_kept_beyond_keep_checkpoint_max(trained):
    config, _, _ = trained
    model_dir = config.model_dir
    best = read_json(os.path.join(model_dir, "best", "best.json"))
    assert best["global_step"] == 2 and best["metric"] == "loss"
    assert best["value"] == history.read(model_dir)[0]["loss"]
    # keep_checkpoint_max: 1 left only the last checkpoint in model_dir; the best stays.
    assert tf.train.get_checkpoint_state(model_dir).all_model_checkpoint_paths == [
        os.path.join(model_dir, "model.ckpt-6")
    ]
    assert tf.train.latest_checkpoint(os.path.join(model_dir, "best")).endswith("model.ckpt-2")
    (export,) = os.listdir(os.path.join(model_dir, "export", "best"))
    assert best["exports"] == [os.path.join(model_dir, "export", "best", export)]
    assert os.path.exists(os.path.join(best["export"], "saved_model.pb"))
    # exporter_type best exports nothing else.
    assert os.listdir(os.path.join(model_dir, "export")) == ["best"]


def test_an_early_stopped_run_stays_finished(trained, caplog):
    config, _, _ = trained
    again = Runner(config, callbacks=lifecycle.callbacks(config))
    with caplog.at_level("INFO", logger="easymtl"):
        assert again.train() == 6
    assert "training already finished at step 6" in caplog.text


def test_best_metric_weighted_sum_and_null():
    metric = BestMetric("0.3 * auc_ctr + auc_cvr*0.7 - 1e-3 * loss")
    assert metric.terms == [(0.3, "auc_ctr"), (0.7, "auc_cvr"), (-0.001, "loss")]
    value = metric.value({"auc_ctr": 0.6, "auc_cvr": 0.8, "loss": 1.0})
    assert value == pytest.approx(0.3 * 0.6 + 0.7 * 0.8 - 0.001)
    assert metric.value({"auc_ctr": 0.6, "auc_cvr": None, "loss": 1.0}) is None
    assert metric.value({"auc_ctr": 0.6, "auc_cvr": math.nan, "loss": 1.0}) is None
    assert metric.better(0.7, None) and metric.better(0.7, 0.6)
    assert not metric.better(0.6, 0.6) and not metric.better(None, 0.1)
    smaller = BestMetric("loss", larger_is_better=False)
    assert smaller.better(0.4, 0.5) and not smaller.better(0.5, 0.4)
    with pytest.raises(ConfigError, match="cannot read '2 \\* auc_ctr \\* 3'"):
        BestMetric("2 * auc_ctr * 3")


class _Runner:
    """The two things EarlyStop reads of a runner, for rules on given results."""

    def __init__(self, step, start_step=0):
        self.global_step = tf.Variable(step, dtype=tf.int64)
        self.run = Run(1, "day1.csv", start_step)
        self.stopped = None

    def request_stop(self, reason):
        self.stopped = reason


@pytest.mark.parametrize(
    "values, patience, max_steps, stop",
    [
        ([0.5, 0.6, 0.7], 1, 0, None),  # improving
        ([0.5, 0.6, 0.55], 1, 0, "in 1 evaluation (its best 0.6 at step 200"),
        ([0.5, None, None], 2, 0, "in 2 evaluations (its best 0.5 at step 100"),
        ([None, None], 2, 0, "in 2 evaluations (no defined value since step 0"),
        ([0.5, 0.4, 0.4, 0.4], 0, 250, "in 300 steps (its best 0.5 at step 100"),
        ([0.5, 0.4, 0.4], 0, 250, None),
    ],
)
def test_early_stop_rules(tmp_path, values, patience, max_steps, stop):
    config = load_config(str(make_config(tmp_path, "mmoe", features=FEW_FEATURES)))
    for i, value in enumerate(values, 1):
        history.record(
            config.model_dir,
            {"global_step": 100 * i, "eval_input_path": config.eval_input_path, "auc_ctr": value},
        )
    # Another eval data's results and an earlier run's never count.
    history.record(config.model_dir, {"global_step": 900, "eval_input_path": "x", "auc_ctr": 0})
    early = EarlyStop(config, BestMetric("auc_ctr"), max_steps, patience)
    early.runner = _Runner(100 * len(values))
    reason = early.check()
    if stop is None:
        assert reason is None and early.runner.stopped is None
    else:
        assert stop in reason and early.runner.stopped == reason
        assert early.runner.run.stop_reason == reason


@pytest.mark.parametrize(
    "extra, message",
    [
        ('export_config { exporter_type: "newest" }', "'newest' is not an exporter type"),
        ('export_config { exporter_type: "best" }', "best_exporter_metric: needed by"),
        (
            'export_config { exporter_type: "best" best_exporter_metric: "auc_ctcvr" }',
            "'auc_ctcvr' is not an evaluation result of this model; expected one of auc_ctr",
        ),
        (
            "train_config { save_checkpoints_steps: 10 } eval_config { eval_interval_steps: 15 }",
            "15 is not a multiple of train_config.save_checkpoints_steps (10)",
        ),
        (
            "train_config { save_checkpoints_steps: 0 } eval_config { eval_interval_steps: 15 }",
            "eval_interval_steps: 15 needs checkpoints during training; train_config."
            "save_checkpoints_steps is 0",
        ),
        (
            'eval_input_path: "" export_config { enable_early_stop: true '
            'best_exporter_metric: "auc_ctr" }',
            "eval_input_path: export_config.enable_early_stop needs evaluations",
        ),
    ],
)
def test_lifecycle_config_errors(tmp_path, extra, message):
    from easymtl.errors import EasymtlError

    with pytest.raises(EasymtlError) as e:
        load_config(str(make_config(tmp_path, "mmoe", extra, features=FEW_FEATURES)))
    assert message in str(e.value)
