"""GradNorm (per-task gradients of the shared variables, all-reduced) on two workers: both
train, and both use the same loss weights at every step."""

from __future__ import annotations

import re

import pytest
import tensorflow as tf
from conftest import SAMPLES, make_config, train_workers

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane


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
    runs = train_workers(path)
    for code, log in runs:
        assert code == 0, log
    logs = [log for _, log in runs]
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
