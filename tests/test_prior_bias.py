"""Prior bias: a fresh run starts each binary tower's output bias at the logit of its
label prior (weighted as the task's loss weighs rows), and leaves a resumed run alone.
tests/reproduce/test_census_income.py has the census-income PLE run it fixed."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import tensorflow as tf

from easymtl.config import load_config
from easymtl.prior_bias import PriorBias, label_counts, prior_bias_callbacks, prior_logit
from easymtl.protos import train_pb2
from easymtl.tasks import Task
from tests.conftest import FEW_FEATURES, SAMPLES


def test_prior_logit_is_the_smoothed_log_odds():
    assert prior_logit(62.0, 938.0) == pytest.approx(math.log(62.5 / 938.5))
    assert prior_logit(1.0, 1.0) == 0.0
    # One class only: finite, and far on its side.
    assert -8.0 < prior_logit(0.0, 1000.0) < -7.0
    assert 7.0 < prior_logit(1000.0, 0.0) < 8.0


def test_label_counts_weigh_rows_as_the_loss_does():
    task = Task(
        name="cvr",
        label_name="buy",
        losses=[],
        task_space_indicator_label="clk",
        out_task_space_weight=0.0,
        sample_weight_name="w",
    )
    labels = {
        "buy": tf.constant([1.0, 0.0, 0.0, 1.0, 0.0]),
        "clk": tf.constant([1.0, 1.0, 1.0, 0.0, 0.0]),  # rows 3, 4 out of space: weight 0
        "w": tf.constant([2.0, 1.0, 3.0, 5.0, 7.0]),
    }
    bad = {k: tf.constant([0.5]) if k == "buy" else tf.constant([1.0]) for k in labels}
    assert label_counts([task], [labels, bad]) == {"cvr": (2.0, 4.0)}


def test_off_by_default_and_switched_on_by_the_config():
    assert prior_bias_callbacks(train_pb2.TrainConfig()) == []
    (callback,) = prior_bias_callbacks(train_pb2.TrainConfig(prior_bias=True))
    assert isinstance(callback, PriorBias)
    with pytest.raises(ValueError, match="`rows` must be positive"):
        PriorBias(rows=0)


def _label_shares(path) -> dict[str, float]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return {name: np.mean([float(r[i]) for r in rows]) for i, name in enumerate(["ctr", "cvr"])}


def test_a_fresh_run_starts_at_the_prior_a_resumed_one_does_not(config_factory):
    from easymtl.runner import Runner

    config = load_config(str(config_factory("mmoe", features=FEW_FEATURES)))
    config.train_config.prior_bias = True
    runner = Runner(config)
    (callback,) = [c for c in runner.callbacks if isinstance(c, PriorBias)]
    heads = {name: tower.head.bias for name, tower in runner.model.towers.items()}
    callback.before_train(3)  # a restored run: its biases are trained ones
    assert all(float(b[0]) == 0.0 for b in heads.values())
    whole = PriorBias(rows=10**6)  # the whole sample file
    whole.runner = runner
    whole.before_train(0)
    for name, share in _label_shares(SAMPLES / "data" / "taobao_mtl_train.csv").items():
        assert 0.0 < share < 0.5
        prior, bias = whole.priors[name]
        assert prior == pytest.approx(share, rel=1e-3)
        assert float(heads[name][0]) == pytest.approx(bias, abs=1e-5)
        assert bias == pytest.approx(math.log(share / (1 - share)), abs=0.01)
