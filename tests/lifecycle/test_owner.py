"""One owner of a model_dir's evaluations and exports: the evaluation lock is held while
evaluating, a checkpoint is evaluated (and exported) once, the history stays in step
order, and a rerun of a finished run writes no new export of the same checkpoint."""

from __future__ import annotations

import fcntl
import json

import pytest
from conftest import FEW_FEATURES, make_config

from easymtl import lifecycle
from easymtl.callbacks import Callback
from easymtl.config import load_config
from easymtl.export.info import exported_step
from easymtl.lifecycle import history
from easymtl.lifecycle.owner import evaluate_new
from easymtl.run_guard import EvaluationLock
from easymtl.runner import Runner
from easymtl.train import main as train_main


def test_checkpoints_of_a_relative_model_dir_are_found(tmp_path, monkeypatch):
    import tensorflow as tf

    from easymtl.lifecycle.continuous import checkpoints

    monkeypatch.chdir(tmp_path)
    step = tf.Variable(0)
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(step=step), "runs/x", 5, checkpoint_name="model.ckpt"
    )
    manager.save(checkpoint_number=4)
    manager.save(checkpoint_number=8)
    assert checkpoints("runs/x") == [(4, "runs/x/model.ckpt-4"), (8, "runs/x/model.ckpt-8")]


def test_history_is_kept_in_step_order_one_entry_per_step_and_eval_data(tmp_path):
    for step, path in [(4, "a"), (8, "a"), (2, "a"), (8, "b"), (4, "a"), (6, "a")]:
        history.record(str(tmp_path), {"global_step": step, "eval_input_path": path, "n": step})
    entries = history.read(str(tmp_path))
    assert [(e["global_step"], e["eval_input_path"]) for e in entries] == [
        (2, "a"), (4, "a"), (6, "a"), (8, "a"), (8, "b"),
    ]  # fmt: skip
    assert history.newest_step(str(tmp_path), "a") == 8


class TryLock(Callback):
    """Tries to take the evaluation lock from another open file during an evaluation."""

    def __init__(self):
        self.locked_out: list[bool] = []

    def after_eval_step(self, index: int, examples: int) -> None:
        with open(EvaluationLock(self.runner.config.model_dir).path) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.locked_out.append(True)
            else:
                fcntl.flock(f, fcntl.LOCK_UN)
                self.locked_out.append(False)


@pytest.mark.slow
def test_lock_is_held_during_an_evaluation_and_a_step_is_evaluated_once(tmp_path):
    extra = "train_config { num_steps: 2 } data_config { batch_size: 32 } "
    extra += "eval_config { num_steps: 2 } export_config { export_after_train: false }"
    config = load_config(str(make_config(tmp_path, "mmoe", extra, features=FEW_FEATURES)))
    assert train_main(["--config", str(tmp_path / "mmoe.config")]) == 0
    assert history.newest_step(config.model_dir, config.eval_input_path) == 2
    probe = TryLock()
    runner = Runner(config, callbacks=[probe, *lifecycle.callbacks(config, training=False)])
    runner.restore(required=True)
    calls = []

    def evaluate():
        calls.append(1)
        return runner.evaluate(restore=False)

    # Step 2 is evaluated already (by the trainer): not again, nor any older step.
    assert evaluate_new(runner, 2, evaluate) is None
    assert evaluate_new(runner, 1, evaluate) is None
    assert calls == [] and probe.locked_out == []
    # An evaluation by request holds the lock throughout and replaces the history entry.
    with EvaluationLock(config.model_dir):
        runner.evaluate(restore=False)
    assert probe.locked_out == [True, True]
    assert [e["global_step"] for e in history.read(config.model_dir)] == [2]
    # Released after: another process may take its turn.
    with open(EvaluationLock(config.model_dir).path) as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


@pytest.mark.slow
@pytest.mark.parametrize("exporter", ["latest", "final"])
def test_rerun_of_a_finished_run_writes_no_new_export(tmp_path, capsys, exporter):
    extra = f'train_config {{ num_steps: 2 }} export_config {{ exporter_type: "{exporter}" }} '
    extra += "data_config { batch_size: 32 } eval_config { num_steps: 2 }"
    path = make_config(tmp_path, "mmoe", extra, features=FEW_FEATURES)
    export = tmp_path / "model" / "export"
    assert train_main(["--config", str(path)]) == 0
    (first,) = export.iterdir()
    assert exported_step(str(first)) == 2
    info = json.loads((first / "assets" / "export.json").read_text())
    assert info == {"global_step": 2, "checkpoint": "model.ckpt-2"}
    capsys.readouterr()
    assert train_main(["--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "training already finished at step 2" in out
    assert "step 2 is evaluated already (eval_history.jsonl)" in out
    assert f"step 2 is exported already ({first}); not exported again" in out
    assert list(export.iterdir()) == [first]
    assert len(history.read(str(tmp_path / "model"))) == 1
