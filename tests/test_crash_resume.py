"""A training process killed with SIGKILL at two points (mid-epoch, and in a restart's
first step) and restarted each time ends with exactly the model of an uninterrupted run:
checkpoints hold the global step, the optimizer state and the position in the epoch, and
are never half-written."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FEW_FEATURES, ROOT, SAMPLES, make_config

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

STEPS_PER_EPOCH = 25  # 3200 rows, batch 128


@pytest.fixture
def configs(tmp_path):
    """Two configs over the same data differing only in model_dir: 2 epochs of 25 steps,
    shuffled, a checkpoint every 7 steps; a few features (the test is of the process)."""
    lines = (SAMPLES / "data" / "taobao_mtl_train.csv").read_text().splitlines()
    (tmp_path / "train.csv").write_text("\n".join(lines[:3200]) + "\n")
    (tmp_path / "eval.csv").write_text("\n".join(lines[-2000:]) + "\n")
    paths = []
    for name in ("reference", "killed"):
        (tmp_path / name).mkdir()
        path = make_config(
            tmp_path / name,
            "mmoe",
            f'train_input_path: "{tmp_path}/train.csv" eval_input_path: "{tmp_path}/eval.csv" '
            "data_config { batch_size: 128 shuffle: true shuffle_buffer_size: 1000 } "
            "train_config { num_epochs: 2 save_checkpoints_steps: 7 log_step_count_steps: 1 } "
            "export_config { export_after_train: false }",
            features=FEW_FEATURES,
        )
        paths.append(path)
    return paths


def start(path: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "easymtl.train", "--config", str(path)]
    out = subprocess.PIPE
    return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)


def kill_when(proc: subprocess.Popen, marker: str) -> str:
    """Reads the process's log until a line contains `marker`, then SIGKILLs it."""
    seen = []
    deadline = time.time() + 180
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            break
        assert time.time() < deadline, "".join(seen)
    else:
        raise AssertionError(f"finished before {marker!r}:\n" + "".join(seen))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return "".join(seen)


def test_killed_run_resumes_to_the_uninterrupted_result(configs):
    from easymtl.train import main as train_main

    reference, killed = configs
    assert train_main(["--config", str(reference)]) == 0
    expected = json.loads((reference.parent / "model" / "eval_result.json").read_text())

    # Killed: in epoch 2 right after the checkpoint at step 35 (so the epoch position is
    # restored too), then during the first step of the restart, before a checkpoint of
    # its own.
    kill_when(start(killed), "INFO step 36/")
    log = kill_when(start(killed), "first step done")
    assert "resuming from step 35 " in log, log
    final = subprocess.run(
        [sys.executable, "-m", "easymtl.train", "--config", str(killed)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert final.returncode == 0, final.stdout + final.stderr
    assert "resuming from step 35 " in final.stdout, final.stdout
    assert f"training done at step {2 * STEPS_PER_EPOCH}" in final.stdout, final.stdout

    got = json.loads((killed.parent / "model" / "eval_result.json").read_text())
    assert got["global_step"] == expected["global_step"] == 2 * STEPS_PER_EPOCH
    for key in ("auc_ctr", "auc_cvr", "loss_ctr", "loss_cvr", "loss"):
        assert got[key] == pytest.approx(expected[key], abs=1e-6), key


def test_killed_export_leaves_no_partial_directory(tmp_path):
    from easymtl.train import main as train_main

    path = make_config(
        tmp_path,
        "mmoe",
        "train_config { num_steps: 2 } export_config { export_after_train: false } "
        "eval_input_path: ''",
        features=FEW_FEATURES,
    )
    assert train_main(["--config", str(path)]) == 0
    export_dir = tmp_path / "exports" / "1"
    export_dir.parent.mkdir()
    cmd = [sys.executable, "-m", "easymtl.export", "--config", str(path)]
    proc = subprocess.Popen(cmd + ["--export_dir", str(export_dir)], cwd=ROOT)
    deadline = time.time() + 120
    while not any(p.name.startswith(".tmp-export-") for p in export_dir.parent.iterdir()):
        assert proc.poll() is None, "export ended before it was seen writing"
        assert time.time() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Only the hidden temporary directory is left: nothing a server would load.
    assert [p.name for p in export_dir.parent.iterdir() if not p.name.startswith(".")] == []
    done = subprocess.run(cmd + ["--export_dir", str(export_dir)], cwd=ROOT, timeout=300)
    assert done.returncode == 0
    assert (export_dir / "saved_model.pb").exists()


def test_lost_worker_stops_the_cluster_and_a_restart_resumes(tmp_path):
    """Worker 1 of two is SIGKILLed after the first checkpoint: worker 0 (the chief)
    stops within bounded time with one line naming the lost task; restarting both
    resumes from the checkpoint and ends with the metrics of an uninterrupted run."""
    import threading

    from conftest import start_workers, train_workers

    extra = (
        "data_config { batch_size: 32 shuffle: true shuffle_buffer_size: 500 } "
        "train_config { num_steps: 16 save_checkpoints_steps: 5 log_step_count_steps: 1 } "
        "eval_config { num_steps: 4 } export_config { export_after_train: false }"
    )
    paths = {}
    for name in ("reference", "killed"):
        (tmp_path / name).mkdir()
        paths[name] = make_config(tmp_path / name, "mmoe", extra, features=FEW_FEATURES)
    for code, log in train_workers(paths["reference"]):
        assert code == 0, log
    expected = json.loads((tmp_path / "reference" / "model" / "eval_result.json").read_text())

    chief, worker = start_workers(paths["killed"])
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(chief.stdout), daemon=True)
    reader.start()
    deadline = time.time() + 400
    while not any("INFO step 7/" in line for line in lines):
        assert chief.poll() is None and time.time() < deadline, "".join(lines)
        time.sleep(0.1)
    worker.send_signal(signal.SIGKILL)
    killed_at = time.time()
    code = chief.wait(timeout=180)  # bounded: no hang
    stopped_after = time.time() - killed_at
    reader.join(10)
    worker.communicate()
    log = "".join(lines)
    errors = [line for line in log.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(errors) == 1, log
    assert errors[0].startswith("error: TF_CONFIG task worker 1 was lost ("), errors
    assert "Restart every task (the same command) to resume" in errors[0], errors
    assert stopped_after < 120, stopped_after
    # The chief may get a few steps past step 7 before the kill lands (a step takes
    # ~40 ms): the run resumes from whichever checkpoint was the latest, 5, 10 or 15.
    saved = sorted(
        int(path.name[len("model.ckpt-") : -len(".index")])
        for path in (tmp_path / "killed" / "model").glob("model.ckpt-*.index")
    )
    assert saved and saved[0] == 5, saved
    resumed_at = saved[-1]
    assert resumed_at in (5, 10, 15), saved

    runs = train_workers(paths["killed"])
    for code, log in runs:
        assert code == 0, log
        assert f"resuming from step {resumed_at} " in log, log
        assert "training done at step 16 " in log, log
    got = json.loads((tmp_path / "killed" / "model" / "eval_result.json").read_text())
    assert got["global_step"] == expected["global_step"] == 16
    for key in ("auc_ctr", "auc_cvr", "loss_ctr", "loss_cvr", "loss"):
        assert got[key] == pytest.approx(expected[key], abs=1e-6), key


# ---- the lifecycle's writes: an evaluation during training, a best export, a warm start

LIFE = (
    "data_config { batch_size: 32 } "
    "train_config { num_steps: 6 save_checkpoints_steps: 2 log_step_count_steps: 1 } "
    "eval_config { eval_interval_steps: 2 } "
    'export_config { exporter_type: "best" best_exporter_metric: "auc_ctr" exports_to_keep: 1 }'
)


def kill_on(proc: subprocess.Popen, ready, what: str) -> None:
    """SIGKILLs `proc` as soon as `ready()` is true (polled every 10 ms)."""
    deadline = time.time() + 300
    while not ready():
        assert proc.poll() is None, f"ended before {what}:\n" + proc.communicate()[0]
        assert time.time() < deadline, what
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def finish(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "easymtl.train", "--config", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def check_consistent(model_dir: Path) -> list[dict]:
    """Nothing half-written: the history is whole JSON lines, best.json names an export
    and a checkpoint that exist, no temporary file or directory is left."""
    lines = (model_dir / "eval_history.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    best = json.loads((model_dir / "best" / "best.json").read_text())
    assert (Path(best["export"]) / "saved_model.pb").exists()
    assert best["exports"] == [best["export"]]
    assert (model_dir / "best" / f"{best['checkpoint']}.index").exists()
    assert [p.name for p in (model_dir / "export" / "best").iterdir()] == [
        Path(best["export"]).name
    ]
    left = [p for p in model_dir.rglob("*") if ".tmp-" in p.name]
    assert left == [], left
    return entries


def test_killed_during_an_evaluation_the_rerun_evaluates_it(tmp_path):
    path = make_config(tmp_path, "mmoe", LIFE, features=FEW_FEATURES)
    model_dir = tmp_path / "model"
    history = model_dir / "eval_history.jsonl"
    # Killed once checkpoint 2 is saved, while it is evaluated (before eval_result.json).
    kill_on(
        start(path),
        lambda: "model.ckpt-2" in _text(model_dir / "checkpoint"),
        "the evaluation at step 2",
    )
    assert not history.exists() and not (model_dir / "eval_result.json").exists()
    out = finish(path)
    assert "resuming from step 2 " in out and "step 2 was not evaluated" in out, out
    entries = check_consistent(model_dir)
    assert [e["global_step"] for e in entries] == [2, 4, 6]


def test_killed_during_a_best_export_the_rerun_exports_again(tmp_path):
    path = make_config(tmp_path, "mmoe", LIFE, features=FEW_FEATURES)
    model_dir = tmp_path / "model"
    best = model_dir / "export" / "best"
    kill_on(
        start(path),
        lambda: best.exists() and any(p.name.startswith(".tmp-export-") for p in best.iterdir()),
        "the first best export",
    )
    assert [p for p in best.iterdir() if not p.name.startswith(".")] == []
    assert not (model_dir / "best" / "best.json").exists()
    out = finish(path)
    assert "resuming from step 2 " in out and "step 2 was not evaluated" in out, out
    entries = check_consistent(model_dir)
    assert [e["global_step"] for e in entries] == [2, 4, 6]


def test_killed_after_a_warm_start_the_rerun_warm_starts_again(tmp_path):
    from easymtl.train import main as train_main

    (tmp_path / "old").mkdir()
    old = make_config(
        tmp_path / "old",
        "mmoe",
        "train_config { num_steps: 2 } eval_input_path: ''",
        features=FEW_FEATURES,
    )
    assert train_main(["--config", str(old)]) == 0
    path = make_config(
        tmp_path,
        "mmoe",
        f'train_config {{ num_steps: 4 fine_tune_checkpoint: "{tmp_path}/old/model" }} '
        "eval_input_path: '' export_config { export_after_train: false }",
        features=FEW_FEATURES,
    )
    kill_when(start(path), "warm start from")  # before the run's first checkpoint
    out = finish(path)
    assert "warm start from" in out and "resuming" not in out, out
    (run,) = json.loads((tmp_path / "model" / "runs.json").read_text())
    assert run["start_step"] == 0 and run["end_step"] == 4
    assert run["warm_start"].endswith("old/model/model.ckpt-2")
