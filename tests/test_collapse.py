"""Collapse warnings: a tower trained on noise labels is reported, while training runs,
by name and with its figures; a healthy run reports nothing."""

from __future__ import annotations

import csv
import itertools
import logging
import math
import random
import re

import pytest

from easymtl.callbacks import Callback
from easymtl.collapse import CollapseWarning, collapse_callbacks
from easymtl.config import load_config
from easymtl.errors import EasymtlError
from easymtl.runner import Runner
from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

ROWS = 2560
PID = 2  # column of pid: "430539_1007" on about 30 % of rows
GENDER = 11  # column of final_gender_code
# The two features the planted labels depend on, and two that carry nothing here: the
# model still has to find them (a third of the 18 sample features' tracing and steps).
FEATURES = ["pid", "final_gender_code", "user_id", "price"]


def planted_data(path, noise_buy: bool, start: int = 0, count: int = ROWS) -> list[int]:
    """Writes `count` rows of the sample from row `start` with planted labels: clk says
    whether pid is the rarer one, buy whether final_gender_code is 2, or (`noise_buy`) is
    a coin with p = 0.3 that no feature predicts. Returns the buy labels."""
    rng = random.Random(start)
    with open(SAMPLES / "data" / "taobao_mtl_train.csv", newline="") as f:
        rows = list(itertools.islice(csv.reader(f), start, start + count))
    for row in rows:
        row[0] = str(int(row[PID] == "430539_1007"))
        row[1] = str(int(rng.random() < 0.3 if noise_buy else row[GENDER] == "2"))
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return [int(r[1]) for r in rows]


def make_runner(config_factory, tmp_path, noise_buy: bool, extra: str = ""):
    """A runner of 30 steps of 64 rows over planted data, evaluating on other rows; the
    buy labels in their training order."""
    data, eval_data = tmp_path / "train.csv", tmp_path / "eval.csv"
    buys = planted_data(data, noise_buy)
    planted_data(eval_data, noise_buy, start=ROWS, count=1280)
    path = config_factory(
        "mmoe",
        f'train_input_path: "{data}" eval_input_path: "{eval_data}" '
        "data_config { batch_size: 64 eval_batch_size: 640 shuffle: false } "
        "train_config { num_steps: 30 log_step_count_steps: 10 "
        f"collapse_warning {{ patience_steps: 10 }} }} {extra}",
        features=FEATURES,
    )
    return Runner(load_config(str(path))), buys


def collapse_callback(runner) -> CollapseWarning:
    (callback,) = [c for c in runner.callbacks if isinstance(c, CollapseWarning)]
    return callback


def collapse_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "is not learning" in r.getMessage()]


def test_a_tower_on_noise_labels_is_reported_while_training(config_factory, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="easymtl")
    runner, buys = make_runner(config_factory, tmp_path, noise_buy=True)
    callback, stops = collapse_callback(runner), []
    runner.callbacks.append(StepOfWarning(callback, stops))
    runner.train()
    assert callback.warned == {("cvr", "loss")}
    (message,) = collapse_warnings(caplog)
    # Warned during training (at the first check, step 2 x patience_steps), once.
    assert stops == [20]
    assert message.startswith("tower 'cvr' is not learning: its mean train loss over steps 11-20")
    # The figures: the prior's loss is its entropy H(p), p from the rows trained on.
    p = sum(buys[: 20 * 64]) / (20 * 64)
    entropy = -p * math.log(p) - (1 - p) * math.log(1 - p)
    assert f"of {entropy:.4f}, the loss of predicting its label prior (p = {p:.4f}, " in message
    assert "from 1280 training rows" in message
    assert "the other towers' train loss, as a share of their prior's: ctr " in message
    assert "gate_temperature" in message and "docs/troubleshooting.md" in message
    # Its eval AUC (on its noise labels) is reported as well.
    results = runner.evaluate()
    assert results["auc_cvr"] < 0.55 < results["auc_ctr"], results
    assert callback.warned == {("cvr", "loss"), ("cvr", "auc")}
    message = collapse_warnings(caplog)[-1]
    assert message.startswith("tower 'cvr' is not learning: its eval AUC at step 30 is ")
    assert "the other towers' eval AUC: ctr " in message


def test_a_run_shorter_than_the_loss_check_is_judged_by_its_eval_auc(
    config_factory, tmp_path, caplog
):
    """15 steps: the train-loss check (from step 2 x 10) never ran, the eval AUC (from step
    10) does; the advice names the other start of the towers first."""
    caplog.set_level(logging.WARNING, logger="easymtl")
    runner, _ = make_runner(
        config_factory, tmp_path, noise_buy=True, extra="train_config { num_steps: 15 }"
    )
    runner.train()
    callback = collapse_callback(runner)
    assert callback.warned == set()
    runner.evaluate()
    assert callback.warned == {("cvr", "auc")}
    (message,) = collapse_warnings(caplog)
    assert message.startswith("tower 'cvr' is not learning: its eval AUC at step 15 is ")
    assert ". Try train_config.prior_bias: true (the towers start at their label priors), " in (
        message
    )


class StepOfWarning(Callback):
    """Records the steps after which `callback` had warned of one more tower."""

    def __init__(self, callback: CollapseWarning, steps: list):
        self.callback = callback
        self.steps = steps
        self.seen = 0

    def after_step(self, step, result):
        warned = len(self.callback.warned)
        if warned > self.seen:
            self.steps.append(step)
            self.seen = warned


def test_a_healthy_run_reports_nothing(config_factory, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="easymtl")
    runner, _ = make_runner(config_factory, tmp_path, noise_buy=False)
    runner.train()
    results = runner.evaluate()
    callback = collapse_callback(runner)
    assert callback.warned == set()
    assert collapse_warnings(caplog) == []
    # Both towers learned, well below their priors' loss and above min_auc.
    assert all(r < 0.9 for r in callback.ratios().values()), callback.ratios()
    assert min(results["auc_ctr"], results["auc_cvr"]) > 0.7, results


def test_the_check_is_on_by_default_and_can_be_turned_off(config_factory):
    (callback,) = collapse_callbacks(load_config(str(config_factory("mmoe"))).train_config)
    assert (callback.patience_steps, callback.min_loss_gain, callback.min_auc) == pytest.approx(
        (100, 0.01, 0.55)
    )
    off = config_factory("mmoe", "train_config { collapse_warning { enabled: false } }")
    assert collapse_callbacks(load_config(str(off)).train_config) == []


@pytest.mark.parametrize(
    "block, field",
    [
        ("patience_steps: 0", "patience_steps: must be positive"),
        ("min_loss_gain: 1", "min_loss_gain: must be in [0, 1), got 1"),
        ("min_auc: 0.3", "min_auc: must be in [0.5, 1], got 0.3"),
    ],
)
def test_bad_values_are_config_errors(config_factory, block, field):
    with pytest.raises(EasymtlError, match=re.escape(f"train_config.collapse_warning.{field}")):
        load_config(
            str(config_factory("mmoe", f"train_config {{ collapse_warning {{ {block} }} }}"))
        )
