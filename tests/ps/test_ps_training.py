"""Parameter-server training on 127.0.0.1: a chief, two workers and two ps tasks
(TF_CONFIG, the normal CLI) train the sample config with its tables sharded over the ps;
the metrics match single-process training within noise; the checkpoint restores in a
single process (whole tables) and in a cluster of three ps, whose training survives a
killed worker; the export serves with whole tables."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest
from conftest import LEARNING_FEATURES, SAMPLES, finish_ps_cluster, make_config, start_ps_cluster

pytestmark = pytest.mark.slow

TRAIN = (
    "data_config { batch_size: 128 } train_config { num_epochs: 1 "
    "save_checkpoints_steps: 100 log_step_count_steps: 50 }"
)


def config(directory, train_path: str, extra: str = ""):
    directory.mkdir(exist_ok=True)
    text = f'train_input_path: "{train_path}" {TRAIN} {extra}'
    return make_config(directory, "mmoe", text, features=LEARNING_FEATURES)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(directory, train path, the cluster's logs) of a 2-worker, 2-ps training."""
    root = tmp_path_factory.mktemp("ps")
    lines = (SAMPLES / "data" / "taobao_mtl_train.csv").read_text().splitlines()
    half = len(lines) // 2
    (root / "part-0.csv").write_text("\n".join(lines[:half]) + "\n")
    (root / "part-1.csv").write_text("\n".join(lines[half:]) + "\n")
    train_path = f"{root}/part-*.csv"
    path = config(root / "cluster", train_path)
    logs = finish_ps_cluster(start_ps_cluster(path, num_workers=2, num_ps=2))
    code, log = logs["chief"][0]
    assert code == 0, log[-4000:]
    return root, train_path, logs


def test_cluster_trains_like_one_process(trained):
    from easymtl.train import main as train_main

    root, train_path, logs = trained
    for job, runs in logs.items():
        for code, log in runs:
            assert code == 0, (job, log[-3000:])
    chief = logs["chief"][0][1]
    assert "parameter-server training: 2 workers, 2 ps" in chief
    # The large tables are split over both ps, the small ones whole on one.
    assert "table user_id_emb (100000 x 8): 50000 rows on ps 0, 50000 rows on ps 1" in chief
    assert "table pvalue_level_emb (5 x 8): 5 rows on ps" in chief
    assert "Traceback" not in chief
    for _, log in logs["worker"] + logs["ps"]:
        assert "released by the chief" in log, log[-2000:]
    model_dir = root / "cluster" / "model"
    got = json.loads((model_dir / "eval_result.json").read_text())
    # One epoch ends when the first worker's shard does: about 2 x 156 asynchronous steps.
    assert 250 <= got["global_step"] <= 320, got
    # Each ps wrote its own shards of the checkpoint (and the chief its variables).
    step = got["global_step"]
    assert len(list(model_dir.glob(f"model.ckpt-{step}.data-*-of-00003"))) == 3
    (export,) = (model_dir / "export").iterdir()
    assert (export / "saved_model.pb").exists()

    assert train_main(["--config", str(config(root / "single", train_path))]) == 0
    expected = json.loads((root / "single" / "model" / "eval_result.json").read_text())
    for key in ("auc_ctr", "auc_cvr"):
        assert got[key] > 0.6, (key, got, expected)
        assert abs(got[key] - expected[key]) < 0.03, (key, got, expected)


def test_checkpoint_restores_in_one_process_and_export_has_whole_tables(trained):
    import tensorflow as tf

    from easymtl.config import load_config
    from easymtl.runner import Runner

    root, _, _ = trained
    model_dir = root / "cluster" / "model"
    got = json.loads((model_dir / "eval_result.json").read_text())
    runner = Runner(load_config(str(model_dir / "pipeline.config")))
    results = runner.evaluate()  # the single-process model: no TF_CONFIG here
    assert results["global_step"] == got["global_step"]
    for key in ("auc_ctr", "auc_cvr", "loss"):
        assert results[key] == pytest.approx(got[key], abs=1e-5), key

    (export,) = (model_dir / "export").iterdir()
    saved = tf.saved_model.load(str(export))
    shapes = sorted(tuple(v.shape) for v in saved.serving_variables)
    assert (100000, 8) in shapes and (50000, 8) not in shapes  # whole tables
    batch = next(iter(runner.build_dataset(False)))
    features, _ = runner.split(batch)
    served = saved.signatures["serving_default"](**features)
    outputs = runner.model(features, training=False)
    for name in ("probs_ctr", "probs_cvr"):
        np.testing.assert_allclose(served[name].numpy(), outputs[name].numpy(), atol=1e-5)


def test_three_ps_resume_the_checkpoint_and_a_killed_worker_does_not_stop_training(
    trained, tmp_path
):
    root, train_path, _ = trained
    first = json.loads((root / "cluster" / "model" / "eval_result.json").read_text())
    directory = tmp_path / "resumed"
    directory.mkdir()
    shutil.copytree(root / "cluster" / "model", directory / "model")
    path = config(directory, train_path, "train_config { num_epochs: 2 }")
    procs = start_ps_cluster(path, num_workers=2, num_ps=3)
    chief, victim = procs["chief"][0], procs["worker"][1]
    seen, deadline = [], time.monotonic() + 300
    # Kill worker 1 once the resumed run has logged its first steps.
    while time.monotonic() < deadline:
        line = chief.stdout.readline()
        if not line:
            break
        seen.append(line)
        if f"step {first['global_step'] + 1}" in line or "  loss " in line:
            break
    victim.kill()
    killed_at = "".join(seen)
    logs = finish_ps_cluster(procs)
    code, rest = logs["chief"][0]
    log = killed_at + rest
    assert code == 0, log[-4000:]
    # The coordinator saw worker 1 go, and steps went on on worker 0.
    assert "/job:worker/replica:0/task:1" in rest and "  loss " in rest, rest[-4000:]
    assert f"resuming from step {first['global_step']}" in log, log[-4000:]
    assert "table user_id_emb (100000 x 8): 33334 rows on ps 0, 33333 rows on ps 1, " in log
    assert "epoch 2 done" in log and "Traceback" not in log, log[-4000:]
    assert logs["worker"][1][0] == -9  # killed, and training went on without it
    got = json.loads((directory / "model" / "eval_result.json").read_text())
    assert got["global_step"] > first["global_step"] + 100, got
    for key in ("auc_ctr", "auc_cvr"):
        assert got[key] > 0.6, (key, got, first)


def test_async_steps_skip_non_finite_batches_grad_norm_and_zch(tmp_path):
    """nan_loss_policy SKIP_BATCH judges each asynchronous step on the chief; GradNorm
    combines each step's own task gradients; a zch table sharded over two ps admits
    ids. Row 150's price (3e38, a regression label) makes the squared error of step 5
    overflow (as tests/test_numerics.py does)."""
    import tensorflow as tf
    from google.protobuf import text_format

    from easymtl.config import load_config
    from easymtl.protos import data_pb2

    lines = (SAMPLES / "data" / "taobao_mtl_train.csv").read_text().splitlines()[:320]
    cells = lines[150].split(",")
    cells[-1] = "3e38"
    lines[150] = ",".join(cells)
    data = tmp_path / "train.csv"
    data.write_text("\n".join(lines) + "\n")
    path = make_config(
        tmp_path,
        "mmoe",
        f'train_input_path: "{data}" eval_input_path: "" '
        "data_config { batch_size: 32 shuffle: false } "
        "train_config { num_epochs: 1 save_checkpoints_steps: 2 nan_loss_policy: SKIP_BATCH } "
        'data_config { label_fields: "price" } '
        'model_config { mmoe { task_towers { tower_name: "value" label_name: "price" '
        "losses { l2_loss {} } } } loss_weighting { grad_norm {} } } "
        "export_config { export_after_train: false }",
        features=["user_id", "tag_brand_list"],
    )
    path.write_text(
        path.read_text().replace(
            "hash_bucket_size: 100000", "zch { zch_size: 10000 eviction_interval: 2 }", 1
        )
    )
    config = load_config(str(path))
    price = next(f for f in config.data_config.input_fields if f.input_name == "price")
    price.input_type = data_pb2.FLOAT
    path.write_text(text_format.MessageToString(config))

    logs = finish_ps_cluster(start_ps_cluster(path, num_workers=1, num_ps=2))
    code, log = logs["chief"][0]
    assert code == 0, log[-4000:]
    assert "table user_id_emb (10000 x 8): 5000 rows on ps 0, 5000 rows on ps 1" in log
    assert "step 5: loss of tower 'value' is NaN or Inf; batch skipped" in log, log[-4000:]
    assert "1 batches skipped for a NaN or Inf loss" in log, log[-4000:]
    assert "weight_value" in log  # GradNorm's weights, logged with the losses
    reader = tf.train.load_checkpoint(str(tmp_path / "model"))
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert np.isfinite(value).all(), name
    assert reader.get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE") == 10
    (row_keys,) = [n for n in reader.get_variable_to_shape_map() if "row_keys" in n]
    held = int((reader.get_tensor(row_keys) != -1).sum())
    assert 100 < held < 10000, held  # the users of the first 8 of 10 steps
