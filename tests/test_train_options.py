"""TorchEasyRec's train options: save_checkpoints_epochs and mixed_precision."""

from __future__ import annotations

import glob
import logging
import os
import re

import numpy as np
import pytest
from conftest import FEW_FEATURES, SAMPLES, make_config

from easymtl.config import load_config
from easymtl.errors import EasymtlError

pytestmark = pytest.mark.slow  # trains: not in the fast lane


def steps_saved(model_dir: str) -> list[int]:
    names = glob.glob(os.path.join(model_dir, "model.ckpt-*.index"))
    return sorted(int(re.search(r"ckpt-(\d+)", n).group(1)) for n in names)


def test_save_checkpoints_epochs_saves_at_epoch_ends_only(tmp_path):
    lines = (SAMPLES / "data" / "taobao_mtl_train.csv").read_text().splitlines()[:64]
    data = tmp_path / "train.csv"
    data.write_text("\n".join(lines) + "\n")
    path = make_config(
        tmp_path,
        "simple_multi_task",
        extra=f'train_input_path: "{data}" eval_input_path: "{data}" '
        "train_config { num_epochs: 3 save_checkpoints_epochs: 2 save_checkpoints_steps: 1 } "
        "data_config { batch_size: 32 }",
        features=FEW_FEATURES,
    )
    from easymtl.runner import Runner

    config = load_config(str(path))
    Runner(config).train()
    # Two steps an epoch: the end of epoch 2 (step 4) and the end (step 6); not every step.
    assert steps_saved(config.model_dir) == [4, 6]


def test_mixed_precision_bf16_computes_the_towers_in_bfloat16_and_serves(tmp_path, caplog):
    from easymtl import testing
    from easymtl.export import export_saved_model
    from easymtl.precision import bf16_hardware
    from easymtl.runner import Runner

    path = make_config(
        tmp_path,
        "mmoe",
        extra='train_config { num_steps: 3 mixed_precision: "BF16" } '
        "data_config { batch_size: 64 }",
        features=FEW_FEATURES,
    )
    config = load_config(str(path))
    with caplog.at_level(logging.INFO, logger="easymtl"):
        runner = Runner(config)
    [line] = [r.getMessage() for r in caplog.records if "mixed_precision" in r.getMessage()]
    if bf16_hardware() is None:
        assert line.endswith("float32")
        pytest.skip(f"no bfloat16 hardware here: {line}")
    assert "bfloat16" in line
    dense = runner.model.backbone
    assert dense.dtype_policy.name == "mixed_bfloat16"
    assert all(v.dtype == "float32" for v in runner.model.trainable_variables)
    runner.train()
    features, _ = runner.split(next(iter(runner.build_dataset(False))))
    outputs = runner.model(features)
    assert outputs["probs_ctr"].dtype == "float32"
    export_dir = export_saved_model(
        runner.serving_model(), runner.serving_specs(), str(tmp_path / "export")
    )
    rows = {k: v.numpy()[:4].tolist() for k, v in features.items()}
    rows = {k: [x.decode() if isinstance(x, bytes) else x for x in v] for k, v in rows.items()}
    served = testing.serve_in_fresh_process(export_dir, rows)
    # bfloat16 keeps 8 bits of mantissa: a batch of 4 rounds differently from one of 64.
    np.testing.assert_allclose(served["probs_ctr"], outputs["probs_ctr"].numpy()[:4], atol=5e-3)


def test_bad_mixed_precision_is_a_config_error(tmp_path):
    path = make_config(tmp_path, extra='train_config { mixed_precision: "INT8" }')
    with pytest.raises(EasymtlError, match="mixed_precision: 'INT8' is not a precision"):
        load_config(str(path))
