"""The continuous evaluator (python -m easymtl.evaluate --continuous): each checkpoint of
a model_dir evaluated once, in order, to eval_history.jsonl and TensorBoard; it stops
when the training run is finished and its last checkpoint scored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, ROOT, make_config

from easymtl import lifecycle
from easymtl.config import load_config
from easymtl.evaluate import main as evaluate_main
from easymtl.export.info import exported_step
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
    # Evaluated again on request, but recorded once: the history stays in step order.
    assert [e["global_step"] for e in history.read(config.model_dir)] == [2, 4, 6]


def test_evaluates_beside_a_training_process(tmp_path):
    """Trainer (no evaluation during training) and continuous evaluator as two processes
    on one model_dir, started together: each checkpoint is evaluated once, by one of
    them; the history is in step order; the best export is the history's best entry,
    exported once."""
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
    entries = history.read(config.model_dir)
    steps = [e["global_step"] for e in entries]
    # The newest checkpoints at least; an older one only if no newer one was evaluated
    # before its turn came: strictly increasing, whoever evaluated.
    assert steps == sorted(set(steps)) and steps[-1] == 6, steps
    evaluations = trained.stdout.count("INFO eval at step ") + out.count("INFO eval at step ")
    assert evaluations == len(steps), trained.stdout + out
    best = lifecycle.best_metric(config.export_config)
    values = [best.value(e) for e in entries]
    state = json.loads((Path(config.model_dir) / "best" / "best.json").read_text())
    assert state["value"] == max(v for v in values if v is not None)
    assert state["global_step"] == steps[values.index(state["value"])]
    assert exported_step(state["export"]) == state["global_step"]
    exported = [exported_step(p) for p in state["exports"]]
    assert len(exported) == len(set(exported)), exported  # no checkpoint exported twice
