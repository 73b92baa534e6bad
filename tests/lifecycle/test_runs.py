"""Incremental (daily) training: a finished model_dir goes on with --continue_train on the
next day's files as a new run with its own epochs; the global step, the optimizer state
(and so the learning-rate schedule) go on; every day's evaluation is kept."""

from __future__ import annotations

import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, SAMPLES, make_config

from easymtl.lifecycle import history, runs
from easymtl.train import main as train_main

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

BATCH = 32


@pytest.fixture
def days(tmp_path):
    """day1.csv, day2.csv (4 batches each) and eval.csv of the sample's rows; a config
    of one epoch per run."""
    lines = (SAMPLES / "data" / "taobao_mtl_train.csv").read_text().splitlines()
    for day in (1, 2):
        rows = lines[(day - 1) * 4 * BATCH : day * 4 * BATCH]
        (tmp_path / f"day{day}.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "eval.csv").write_text("\n".join(lines[-256:]) + "\n")
    config = make_config(
        tmp_path,
        "mmoe",
        f'eval_input_path: "{tmp_path}/eval.csv" '
        f"data_config {{ batch_size: {BATCH} }} train_config {{ num_epochs: 1 }} "
        "export_config { exporter_type: 'none' }",
        features=FEW_FEATURES,
    )
    return tmp_path, config


def train(config, data, *flags):
    return train_main(["--config", str(config), "--train_input_path", str(data), *flags])


def test_day_after_day(days, capsys):
    tmp, config = days
    model_dir = tmp / "model"
    assert train(config, tmp / "day1.csv") == 0
    # Day 1 again: finished, nothing trained.
    assert train(config, tmp / "day1.csv") == 0
    assert "training already finished at step 4 (run 1" in capsys.readouterr().out
    # Day 2 without --continue_train: one line, exit 2, nothing written.
    assert train(config, tmp / "day2.csv") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass --continue_train to train it further" in err
    assert len(runs.read(str(model_dir))) == 1
    # Day 2 with it: a new run from step 4, one epoch of its own.
    assert train(config, tmp / "day2.csv", "--continue_train") == 0
    out = capsys.readouterr().out
    assert "run 2: continuing model_dir from step 4 on train_input_path" in out
    assert "training done at step 8" in out
    day1, day2 = runs.read(str(model_dir))
    assert (day1.start_step, day1.end_step, day1.train_input_path) == (0, 4, str(tmp / "day1.csv"))
    assert (day2.start_step, day2.end_step, day2.train_input_path) == (4, 8, str(tmp / "day2.csv"))
    reader = tf.train.load_checkpoint(str(model_dir))
    assert reader.get_tensor("epoch/.ATTRIBUTES/VARIABLE_VALUE") == 1  # day 2's epoch
    # Adam's step (bias correction, and any learning-rate schedule) went on.
    assert reader.get_tensor("dense_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 8
    # Both days' evaluations are kept; eval_result.json is day 2's.
    entries = history.read(str(model_dir))
    assert [(e["global_step"], e["run"], e["train_input_path"]) for e in entries] == [
        (4, 1, str(tmp / "day1.csv")),
        (8, 2, str(tmp / "day2.csv")),
    ]
    # Day 2 again, even with --continue_train: finished on these files.
    assert train(config, tmp / "day2.csv", "--continue_train") == 0
    assert "training already finished at step 8 (run 2" in capsys.readouterr().out
    assert len(runs.read(str(model_dir))) == 2


def test_num_steps_count_from_the_run_start(days):
    from easymtl.config import load_config
    from easymtl.runner import Runner

    _, config_path = days
    config = load_config(str(config_path))
    config.train_config.ClearField("num_epochs")
    config.train_config.num_steps = 3
    runner = Runner(config)
    assert runs.limits(runner, runs.Run(2, "day2.csv", start_step=40)) == (43, None)
    config.train_config.ClearField("num_steps")
    assert runs.limits(runner, runs.Run(2, "day2.csv", start_step=40)) == (None, 1)
