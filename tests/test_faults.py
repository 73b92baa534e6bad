"""Faults a production run meets, injected for real: a full disk (a small tmpfs mounted
as model_dir), a truncated or mismatched checkpoint, a model too big for memory. Each
ends in one line, leaves no temporary file, and a rerun recovers where it can."""

from __future__ import annotations

import glob
import json
import logging
import os
import re
import resource
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import make_config
from google.protobuf import text_format

from easymtl import checkpoints, disk, memory
from easymtl.config import PipelineConfig, load_config
from easymtl.errors import EasymtlError
from easymtl.export.__main__ import main as export_main
from easymtl.train import main as train_main

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

ROWS = 64  # bucket rows of every id feature: checkpoints of ~100 kB


def small_config(directory: Path, model_dir: Path, extra: str = "") -> Path:
    """The sample MMoE config with tiny tables, 4 steps, a checkpoint every 2."""
    path = make_config(
        directory,
        "mmoe",
        f'model_dir: "{model_dir}" train_config {{ num_steps: 4 save_checkpoints_steps: 2 }} '
        "data_config { batch_size: 32 } export_config { export_after_train: false } " + extra,
    )
    config = PipelineConfig()
    text_format.Parse(path.read_text(), config)
    for feature in config.feature_configs:
        if feature.WhichOneof("feature") == "id_feature" and feature.id_feature.HasField(
            "hash_bucket_size"
        ):
            feature.id_feature.hash_bucket_size = ROWS
    path.write_text(text_format.MessageToString(config))
    return path


@pytest.fixture
def small_disk(tmp_path):
    """mount(size) mounts a tmpfs of `size` bytes and returns it; remount(size) grows it."""
    mounts = []

    def mount(size: int) -> Path:
        point = tmp_path / f"disk{len(mounts)}"
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
            capture_output=True,
            text=True,
        )
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); needs root")
        mounts.append(point)
        return point

    def remount(point: Path, size: int) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(point)], check=True)

    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    yield mount, remount
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], check=False)


def fill(directory: Path) -> None:
    """Writes a file into `directory` until its file system is full."""
    with open(directory / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def one_error(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert len(err) == 1, err
    return err[0]


def leftovers(model_dir: Path) -> list[str]:
    """Temporary files and directories anywhere under model_dir."""
    found = []
    for path in model_dir.rglob("*"):
        if "_temp" in path.name or ".tmp" in path.name:
            found.append(str(path))
    return found


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory):
    """A model_dir of small_config trained once, with checkpoints at steps 2 and 4."""
    tmp = tmp_path_factory.mktemp("trained")
    path = small_config(tmp, tmp / "model", "eval_config { num_steps: 2 }")
    assert train_main(["--config", str(path)]) == 0
    return tmp / "model"


@pytest.fixture
def trained(tmp_path, trained_once):
    """A copy of trained_once in tmp_path/model, and its config."""
    shutil.copytree(trained_once, tmp_path / "model")
    return small_config(tmp_path, tmp_path / "model", "eval_config { num_steps: 2 }"), (
        tmp_path / "model"
    )


def test_full_disk_while_checkpointing_stops_cleanly_and_resumes(
    tmp_path, small_disk, capsys, trained_once
):
    mount, remount = small_disk
    size = checkpoints.checkpoint_bytes(str(trained_once / "model.ckpt-4"))
    # Room for one checkpoint (and the config and event files), not for a second.
    point = mount(int(size * 1.5) + 256 * 1024)
    model_dir = point / "model"
    path = small_config(tmp_path, model_dir, "eval_input_path: ''")
    capsys.readouterr()

    assert train_main(["--config", str(path)]) == 2
    err = one_error(capsys)
    assert "checkpoint model.ckpt-4 cannot be written: No space left on device" in err, err
    assert "the last good checkpoint is model.ckpt-2" in err, err
    needs = re.search(r"a checkpoint needs about ([\d.]+) kB, ([\d.]+) kB is free", err)
    assert needs and float(needs.group(1)) == pytest.approx(size / 1000, rel=0.01), err
    assert leftovers(model_dir) == []
    assert not glob.glob(str(model_dir / "model.ckpt-4*"))
    assert checkpoints.latest_readable(str(model_dir)).endswith("model.ckpt-2")

    remount(point, size * 4)  # space freed: the same command resumes
    capsys.readouterr()
    assert train_main(["--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "resuming from step 2 " in out and "training done at step 4 " in out, out
    assert leftovers(model_dir) == []


def test_first_checkpoint_on_a_full_disk_leaves_nothing(tmp_path, small_disk, capsys):
    mount, _ = small_disk
    point = mount(64 * 1024)
    path = small_config(tmp_path, point / "model", "eval_input_path: ''")
    assert train_main(["--config", str(path)]) == 2
    err = one_error(capsys)
    assert "cannot be written: No space left on device" in err, err
    assert "none (no checkpoint saved yet)" in err, err
    assert not (point / "model").exists()  # a new model_dir is removed again


def test_eval_result_summaries_and_export_on_a_full_disk(tmp_path, small_disk, capsys):
    mount, _ = small_disk
    point = mount(4 * 1024 * 1024)
    model_dir = point / "model"
    path = small_config(tmp_path, model_dir, "eval_config { num_steps: 2 }")
    assert train_main(["--config", str(path)]) == 0
    (model_dir / "eval_result.json").unlink()
    shutil.rmtree(model_dir / "export", ignore_errors=True)
    fill(point)
    capsys.readouterr()

    assert train_main(["--config", str(path), "--eval_only"]) == 2
    err = one_error(capsys)
    assert "evaluation results" in err and "eval_result.json" in err, err
    assert "No space left on device" in err, err

    assert export_main(["--config", str(path)]) == 2
    err = one_error(capsys)
    assert "SavedModel export" in err and "No space left on device" in err, err
    assert "nothing was exported" in err, err
    assert not (model_dir / "export").exists() or not os.listdir(model_dir / "export")

    # Training on: the next event file or checkpoint write fails, as one line.
    longer = ["--config", str(path), "--train_config.num_steps=8"]
    assert train_main([*longer, "--train_config.log_step_count_steps=1"]) == 2
    err = one_error(capsys)
    assert "cannot be written: No space left on device" in err, err
    assert leftovers(model_dir) == []

    (point / "filler").unlink()
    assert train_main(longer) == 0
    assert json.loads((model_dir / "eval_result.json").read_text())["global_step"] == 8


def test_write_text_on_a_full_disk(small_disk):
    mount, _ = small_disk
    point = mount(64 * 1024)
    fill(point)
    target = point / "pipeline.config"
    with pytest.raises(EasymtlError, match="the run's config .*No space left on device"):
        disk.write_text(str(target), "x" * 100_000, "the run's config")
    assert sorted(p.name for p in point.iterdir()) == ["filler"]


# ------------------------------------------------------------------ unreadable checkpoints


def data_file(model_dir: Path, step: int) -> Path:
    return model_dir / f"model.ckpt-{step}.data-00000-of-00001"


@pytest.mark.parametrize("damage", ["truncated", "missing_shard", "mismatch", "index"])
def test_damaged_checkpoints_are_found(trained, damage):
    _, model_dir = trained
    prefix = str(model_dir / "model.ckpt-4")
    assert checkpoints.unreadable(prefix) is None
    data = data_file(model_dir, 4)
    if damage == "truncated":
        os.truncate(data, data.stat().st_size // 2)
    elif damage == "missing_shard":
        data.unlink()
    elif damage == "mismatch":
        shutil.copy(data_file(model_dir, 2), data)
    else:
        os.truncate(prefix + ".index", 100)
    assert checkpoints.unreadable(prefix) is not None


def test_truncated_latest_checkpoint_falls_back(trained, capsys, caplog):
    path, model_dir = trained
    data = data_file(model_dir, 4)
    os.truncate(data, data.stat().st_size // 2)
    size = data.stat().st_size
    caplog.set_level(logging.WARNING, logger="easymtl")

    assert train_main(["--config", str(path), "--eval_only"]) == 0
    assert json.loads((model_dir / "eval_result.json").read_text())["global_step"] == 2
    out = capsys.readouterr().out
    assert "unreadable checkpoint model.ckpt-4 (Read less bytes than requested) left in " in out
    assert "using model.ckpt-2 instead" in out, out
    assert data.stat().st_size == size  # never deleted or changed

    export_dir = model_dir.parent / "export_a"
    assert export_main(["--config", str(path), "--export_dir", str(export_dir)]) == 0
    assert "using model.ckpt-2 instead" in capsys.readouterr().out
    assert (export_dir / "saved_model.pb").exists() and data.stat().st_size == size

    # Training sets it aside (so that its own saves neither overwrite nor rotate it)
    # and resumes from step 2.
    assert train_main(["--config", str(path), "--train_config.num_steps=6"]) == 0
    out = capsys.readouterr().out
    aside = model_dir / "unreadable" / data.name
    assert f"moved to {model_dir / 'unreadable'}" in out, out
    assert "resuming from step 2 " in out and "training done at step 6 " in out, out
    assert aside.stat().st_size == size
    assert json.loads((model_dir / "eval_result.json").read_text())["global_step"] == 6


def test_no_readable_checkpoint_is_one_line(trained, capsys):
    path, model_dir = trained
    for step in (2, 4):
        data = data_file(model_dir, step)
        os.truncate(data, data.stat().st_size // 2)
    capsys.readouterr()
    for argv in (["--eval_only"], []):
        assert train_main(["--config", str(path), *argv]) == 2
        err = one_error(capsys)
        assert "no readable checkpoint: model.ckpt-4 (" in err and "model.ckpt-2 (" in err, err
    assert export_main(["--config", str(path)]) == 2
    assert "no readable checkpoint" in one_error(capsys)
    assert data_file(model_dir, 2).exists() and data_file(model_dir, 4).exists()


# ----------------------------------------------------------------------------- memory


def test_huge_table_is_refused_before_allocation(tmp_path):
    from easymtl.runner import Runner

    path = small_config(tmp_path, tmp_path / "model")
    edit = "feature_configs[feature_name=user_id].id_feature."
    config = load_config(
        str(path),
        [("test", {edit + "hash_bucket_size": "1000000000", edit + "embedding_dim": "64"})],
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(EasymtlError) as raised:
        Runner(config)
    message = str(raised.value)
    # Adagrad (the sample's sparse optimizer) keeps one accumulator per entry.
    assert message.startswith(
        "memory: the model needs about 512.0 GB (embedding tables 256.0 GB + their optimizer "
        "slots 256.0 GB)"
    ), message
    assert "is available; the largest embedding table is user_id_emb (1000000000 x 64)" in message
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 1_000_000, grown_kb  # nothing near the table's size was allocated


def test_estimate_is_the_checkpoint_size(trained):
    from easymtl.runner import Runner

    path, model_dir = trained
    runner = Runner(load_config(str(path)))
    saved = checkpoints.checkpoint_bytes(str(model_dir / "model.ckpt-4"))
    # The checkpoint holds the parameters and slots (and its index, a few scalars).
    assert abs(runner.memory.total - saved) / saved < 0.05, (runner.memory, saved)


def test_warning_above_half_and_refusal(caplog):
    need = memory.Need(tables=600, table_slots=600, dense=100, dense_slots=200, largest=None)
    caplog.set_level(logging.WARNING, logger="easymtl")
    memory.check(need, available=3000)
    assert not caplog.records
    memory.check(need, available=2000)
    assert "memory: the model takes about 1.5 kB" in caplog.text
    with pytest.raises(EasymtlError, match=r"needs about 1.5 kB .* but 1.0 kB is available"):
        memory.check(need, available=1000)
    # Bytes already allocated by the model itself count as available to it.
    memory.check(need, available=1000, allocated=1000)


def test_a_relative_model_dir_reruns_without_calling_its_checkpoints_unreadable(
    tmp_path, monkeypatch, capsys
):
    """The README's sample configs use a relative model_dir (runs/<name>): the state file
    then holds paths relative to the working directory; a rerun must find them."""
    monkeypatch.chdir(tmp_path)
    path = small_config(tmp_path, Path("runs/m"), "eval_input_path: ''")
    assert train_main(["--config", str(path)]) == 0
    assert train_main(["--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "unreadable" not in out, out
    assert "training already finished at step 4" in out, out
    assert not (tmp_path / "runs" / "m" / "unreadable").exists()
    assert checkpoints.latest_readable("runs/m").endswith("model.ckpt-4")
