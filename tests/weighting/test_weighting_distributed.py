"""GradNorm (per-task gradients of the shared variables, all-reduced) on two workers: both
train, and both use the same loss weights at every step."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import pytest
import tensorflow as tf
from conftest import ROOT, SAMPLES, make_config


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_agree_on_the_weights(tmp_path):
    lines = (SAMPLES / "data" / "taobao_mtl_train.csv").read_text().splitlines()[:2560]
    for i in range(2):
        (tmp_path / f"part-{i}.csv").write_text("\n".join(lines[i::2]) + "\n")
    path = make_config(
        tmp_path,
        "shared_bottom",
        f'train_input_path: "{tmp_path}/part-*.csv" eval_input_path: "" '
        "model_config { loss_weighting { grad_norm { lr: 0.05 } } } "
        "data_config { batch_size: 64 } export_config { export_after_train: false } "
        "train_config { num_steps: 10 log_step_count_steps: 5 save_checkpoints_steps: 10 }",
    )
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    procs = []
    for index in range(2):
        env = dict(os.environ)
        env["TF_CONFIG"] = json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "easymtl.train", "--config", str(path)],
                cwd=ROOT,
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        )
    logs = [p.communicate(timeout=600)[0] for p in procs]
    for proc, log in zip(procs, logs):
        assert proc.returncode == 0, log
    pattern = r"step (\d+)/10 .* weight_ctr ([0-9.]+)  weight_cvr ([0-9.]+)"
    weights = [re.findall(pattern, log) for log in logs]
    assert [s for s, _, _ in weights[0]] == ["5", "10"], logs[0]
    assert weights[0] == weights[1], logs
    for _, ctr, cvr in weights[0]:
        assert float(ctr) + float(cvr) == pytest.approx(2.0, abs=2e-4)
    assert weights[0][-1][1:] != ("1.0000", "1.0000")

    reader = tf.train.load_checkpoint(str(tmp_path / "model"))
    saved = [
        float(reader.get_tensor(k))
        for k in reader.get_variable_to_shape_map()
        if "grad_norm_weight" in k and "optimizer" not in k and "OPTIMIZER" not in k
    ]
    assert len(saved) == 2 and sum(saved) == pytest.approx(2.0, rel=1e-6), saved
