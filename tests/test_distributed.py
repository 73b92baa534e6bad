"""Multi-worker training: two worker processes on 127.0.0.1 (TF_CONFIG) train the sample
config together; the chief writes the checkpoint, metrics and export, and the metrics
match single-process training on the same data within noise."""

from __future__ import annotations

import json

import pytest
from conftest import LEARNING_FEATURES, SAMPLES, make_config, train_workers

from easymtl.distribute import _from_tf_config
from easymtl.errors import EasymtlError

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane


@pytest.fixture
def data(tmp_path):
    """The sample training data as two files (one per worker)."""
    lines = (SAMPLES / "data" / "taobao_mtl_train.csv").read_text().splitlines()
    half = len(lines) // 2
    (tmp_path / "part-0.csv").write_text("\n".join(lines[:half]) + "\n")
    (tmp_path / "part-1.csv").write_text("\n".join(lines[half:]) + "\n")
    return f"{tmp_path}/part-*.csv"


def config(tmp_path, name: str, train_path: str):
    directory = tmp_path / name
    directory.mkdir()
    return make_config(
        directory,
        "mmoe",
        f'train_input_path: "{train_path}" data_config {{ batch_size: 128 }} '
        "train_config { num_epochs: 1 save_checkpoints_steps: 50 log_step_count_steps: 50 }",
        features=LEARNING_FEATURES,
    )


def test_two_workers_train_like_one_process(tmp_path, data):
    from easymtl.train import main as train_main

    assert train_main(["--config", str(config(tmp_path, "single", data))]) == 0
    expected = json.loads((tmp_path / "single" / "model" / "eval_result.json").read_text())

    path = config(tmp_path, "cluster", data)
    runs = train_workers(path)
    for code, log in runs:
        assert code == 0, log
    logs = [log for _, log in runs]
    # 40,000 rows in two files of 20,000: 157 steps of 128 rows on each worker.
    for log in logs:
        assert "training done at step 157 " in log, log
    assert "eval at step 157" in logs[0] and "eval at step" not in logs[1]
    # Every task ends cleanly: the worker waits for the chief's evaluation and export, so
    # the chief does not see it vanish (BaseCollectiveExecutor::StartAbort UNAVAILABLE:
    # "The following tasks are unhealthy (stopped sending heartbeats)").
    for log in logs:
        assert "StartAbort" not in log and "unhealthy" not in log, log
    model_dir = tmp_path / "cluster" / "model"
    assert (model_dir / "model.ckpt-157.index").exists()
    (export,) = (model_dir / "export").iterdir()
    assert (export / "saved_model.pb").exists()
    got = json.loads((model_dir / "eval_result.json").read_text())
    assert got["global_step"] == 157
    for key in ("auc_ctr", "auc_cvr"):
        assert got[key] > 0.6, (key, got, expected)
        assert abs(got[key] - expected[key]) < 0.03, (key, got, expected)


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "not valid JSON"),
        ('{"cluster": {"ps": ["a:1"], "worker": ["b:1"]}, "task": {"type": "ps"}}', "'ps'"),
    ],
)
def test_bad_tf_config_is_one_clear_error(text, message):
    with pytest.raises(EasymtlError, match=message):
        _from_tf_config(text)


def test_one_task_is_single_process():
    single = _from_tf_config('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}')
    assert single.num_workers == 1 and single.strategy is None and single.is_chief
