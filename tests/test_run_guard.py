"""One training run per model_dir; SIGTERM saves a checkpoint before exiting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FEW_FEATURES, ROOT

from easymtl.errors import EasymtlError
from easymtl.run_guard import ModelDirLock

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane


def test_second_lock_is_refused_and_released_on_exit(tmp_path):
    refused = pytest.raises(EasymtlError, match=r"another training run \(pid \d+\)")
    with ModelDirLock(str(tmp_path)), refused, ModelDirLock(str(tmp_path)):
        pass
    with ModelDirLock(str(tmp_path)):  # released
        pass


def test_lock_of_a_killed_process_is_free(tmp_path):
    code = (
        "import sys, time; from easymtl.run_guard import ModelDirLock; "
        f"l = ModelDirLock({str(tmp_path)!r}).__enter__(); print('locked', flush=True); "
        "time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    with pytest.raises(EasymtlError):
        ModelDirLock(str(tmp_path)).__enter__()
    proc.kill()
    proc.wait()
    with ModelDirLock(str(tmp_path)):
        pass


def test_sigterm_saves_a_checkpoint_and_exits_143(config_factory):
    path = config_factory(
        "mmoe",
        "train_config { num_steps: 100000 num_epochs: 1000 save_checkpoints_steps: 100000 "
        "log_step_count_steps: 5 } export_config { export_after_train: false }",
        features=FEW_FEATURES,
    )
    model_dir = path.parent / "model"
    cmd = [sys.executable, "-m", "easymtl.train", "--config", str(path)]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    for line in proc.stdout:
        if "INFO step 10/" in line:
            break
        assert time.time() < deadline
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped by signal" in err and "checkpoint saved" in err
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(model_dir))
    assert latest and int(latest.rsplit("-", 1)[1]) >= 10
    assert not Path(model_dir, "eval_result.json").exists()


def test_lock_removes_a_killed_writers_temporary_files(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = tmp_path / f"pipeline.config.tmp-{dead.pid}"  # a run killed in its atomic write
    live = tmp_path / f"eval_result.json.tmp-{os.getpid()}"  # a live writer's (an evaluation)
    left.write_text("half")
    live.write_text("half")
    with ModelDirLock(str(tmp_path)):
        assert not left.exists() and live.exists()
