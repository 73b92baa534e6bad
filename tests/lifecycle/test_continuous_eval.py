"""The continuous evaluator (python -m easymtl.evaluate --continuous): each checkpoint of
a model_dir evaluated once, in order, to eval_history.jsonl and TensorBoard; it stops
when the training run is finished and its last checkpoint scored."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, ROOT, make_config

from easymtl import lifecycle
from easymtl.config import load_config
from easymtl.evaluate import main as evaluate_main
from easymtl.lifecycle import history
from easymtl.lifecycle.continuous import ContinuousEvaluator
from easymtl.runner import Runner

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

EXTRA = """
train_config { num_steps: 6 save_checkpoints_steps: 2 }
data_config { batch_size: 32 } eval_config { num_steps: 8 }  # 256 rows: both classes of buy
export_config { exporter_type: "best" best_exporter_metric: "0.5 * auc_ctr + 0.5 * auc_cvr" }
"""


def eval_steps(model_dir):
    steps = []
    for path in tf.io.gfile.glob(os.path.join(model_dir, "eval", "events.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            if any(v.tag == "auc_ctr" for v in event.summary.value):
                steps.append(event.step)
    return sorted(steps)


def test_scores_each_checkpoint_once_then_stops(tmp_path):
    config = load_config(str(make_config(tmp_path, "mmoe", EXTRA, features=FEW_FEATURES)))
    assert Runner(config).train() == 6  # three checkpoints, no evaluation
    callbacks = lifecycle.callbacks(config, training=False)
    evaluator = ContinuousEvaluator(Runner(config, callbacks=callbacks), 0.1, 60)
    assert [s for s, _ in evaluator.pending()] == [2, 4, 6]
    assert evaluator.run() == 3
    entries = history.read(config.model_dir)
    assert [(e["global_step"], e["run"]) for e in entries] == [(2, 1), (4, 1), (6, 1)]
    assert eval_steps(config.model_dir) == [2, 4, 6]
    # The weighted metric chose the best of the three.
    best = lifecycle.best_metric(config.export_config)
    values = [best.value(e) for e in entries]
    state = callbacks[0].state()
    assert state["value"] == max(v for v in values if v is not None)
    assert state["global_step"] == entries[values.index(state["value"])]["global_step"]
    # Nothing new: a second evaluator has nothing to do and stops at once.
    again = Runner(config, callbacks=lifecycle.callbacks(config, training=False))
    assert ContinuousEvaluator(again, 0.1, 60).run() == 0
    # One checkpoint, by path, through the CLI.
    path = os.path.join(config.model_dir, "model.ckpt-4")
    assert (
        evaluate_main(["--config", str(tmp_path / "mmoe.config"), "--checkpoint_path", path]) == 0
    )
    assert history.read(config.model_dir)[-1]["global_step"] == 4


def test_evaluates_beside_a_training_process(tmp_path):
    """Trainer and evaluator as two processes on one model_dir, started together."""
    path = make_config(tmp_path, "mmoe", EXTRA, features=FEW_FEATURES)
    config = load_config(str(path))
    cmd = [sys.executable, "-m"]
    evaluator = subprocess.Popen(
        [*cmd, "easymtl.evaluate", "--config", str(path), "--continuous", "--interval_secs", "1",
         "--timeout_secs", "300"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    trained = subprocess.run(
        [*cmd, "easymtl.train", "--config", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout + trained.stderr
    out = evaluator.communicate(timeout=600)[0]
    assert evaluator.returncode == 0, out
    assert "training is finished" in out
    steps = [e["global_step"] for e in history.read(config.model_dir)]
    # Every checkpoint scored, the evaluator's oldest first (the trainer's own final
    # evaluation may score 6 too, before or after the evaluator).
    assert sorted(steps) in ([2, 4, 6], [2, 4, 6, 6]), steps
    assert out.index("eval at step 2 ") < out.index("eval at step 4 "), out
