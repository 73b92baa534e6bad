"""Runner callbacks: every hook at its point with its arguments, and a requested stop."""

from __future__ import annotations

import json
import logging
import os

import pytest
import tensorflow as tf
from conftest import FEW_FEATURES

from easymtl.callbacks import Callback
from easymtl.config import load_config
from easymtl.runner import Runner

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane


class Recorder(Callback):
    """Records every hook call; requests a stop after step `stop_at`."""

    def __init__(self, stop_at: int | None = None):
        self.events = []
        self.results = {}
        self.stop_at = stop_at

    def before_train(self, step):
        self.events.append(("before_train", step))

    def before_step(self, step):
        assert int(self.runner.global_step.numpy()) == step - 1
        self.events.append(("before_step", step))

    def after_step(self, step, result):
        assert int(self.runner.global_step.numpy()) == step
        self.events.append(("after_step", step))
        self.results[step] = result
        if step == self.stop_at:
            self.runner.request_stop(f"stop at {step} for the test")

    def on_checkpoint(self, step, path):
        assert os.path.exists(path + ".index"), path
        self.events.append(("on_checkpoint", step, os.path.basename(path)))

    def after_train(self, step):
        self.events.append(("after_train", step))

    def after_eval_step(self, index, examples):
        self.events.append(("after_eval_step", index, examples))

    def after_evaluate(self, step, results):
        self.events.append(("after_evaluate", step))
        self.results["eval"] = results


def make_runner(config_factory, extra, *callbacks):
    config = load_config(str(config_factory("mmoe", extra, features=FEW_FEATURES)))
    return Runner(config, callbacks=list(callbacks))


def test_hooks_run_in_order_with_steps_results_and_checkpoints(config_factory):
    recorder = Recorder()
    runner = make_runner(
        config_factory,
        "train_config { num_steps: 5 save_checkpoints_steps: 3 log_step_count_steps: 1 }"
        " data_config { batch_size: 32 eval_batch_size: 200 } eval_config { num_steps: 2 }",
        recorder,
    )
    assert runner.train() == 5
    steps = [e for s in range(1, 6) for e in (("before_step", s), ("after_step", s))]
    assert recorder.events == [
        ("before_train", 0),
        *steps[:6],
        ("on_checkpoint", 3, "model.ckpt-3"),
        *steps[6:],
        ("on_checkpoint", 5, "model.ckpt-5"),
        ("after_train", 5),
    ]
    # A step's result is what the log shows (one step a log line here).
    for step, logged in runner.history:
        result = recorder.results[step]
        assert result.applied and int(result.examples) == 32
        assert set(result.losses) == {"ctr", "cvr"}
        assert float(result.loss) == pytest.approx(logged["total"], rel=1e-5)
        for tower in ("ctr", "cvr"):
            assert float(result.losses[tower]) == pytest.approx(logged[tower], rel=1e-5)

    recorder.events.clear()
    results = runner.evaluate()
    assert recorder.events == [
        ("after_eval_step", 0, 200),
        ("after_eval_step", 1, 200),
        ("after_evaluate", 5),
    ]
    assert recorder.results["eval"] is results
    with open(os.path.join(runner.model_dir, "eval_result.json")) as f:
        written = json.load(f)
    assert written["global_step"] == 5 and written["num_examples"] == 400


def test_request_stop_ends_training_with_a_checkpoint_and_resume_continues(config_factory, caplog):
    extra = "train_config { num_steps: 8 save_checkpoints_steps: 100 } "
    extra += "data_config { batch_size: 32 }"
    recorder = Recorder(stop_at=3)
    runner = make_runner(config_factory, extra, recorder)
    with caplog.at_level(logging.INFO, logger="easymtl"):
        assert runner.train() == 3
    assert runner.stop_reason == "stop at 3 for the test"
    assert "training stopped at step 3: stop at 3 for the test" in caplog.text
    assert recorder.events[-2:] == [("on_checkpoint", 3, "model.ckpt-3"), ("after_train", 3)]
    assert tf.train.latest_checkpoint(runner.model_dir).endswith("model.ckpt-3")
    assert int(runner.state.step_in_epoch.numpy()) == 3

    # A new run resumes at the stop and goes on to num_steps; the stop was this run's.
    again = Recorder()
    resumed = make_runner(config_factory, extra, again)
    assert resumed.train() == 8
    assert resumed.stop_reason is None
    assert again.events[0] == ("before_train", 3) and again.events[1] == ("before_step", 4)
    assert again.events[-1] == ("after_train", 8)


def test_stop_requested_before_the_first_step_trains_none(config_factory):
    class StopAtOnce(Callback):
        def before_train(self, step):
            self.runner.request_stop("nothing to do")
            self.runner.request_stop("a later reason is not kept")

    runner = make_runner(config_factory, "train_config { num_steps: 4 }", StopAtOnce())
    assert runner.train() == 0
    assert runner.stop_reason == "nothing to do"
    assert int(runner.global_step.numpy()) == 0
