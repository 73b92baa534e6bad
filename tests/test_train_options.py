"""TorchEasyRec's train options: save_checkpoints_epochs (and save_checkpoints_steps: 0)
and mixed_precision."""

from __future__ import annotations

import glob
import os
import re

import pytest
from conftest import FEW_FEATURES, SAMPLES, make_config

from easymtl.config import load_config

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


def test_save_checkpoints_steps_0_saves_at_the_end_only(tmp_path):
    """TorchEasyRec's benchmark configs set save_checkpoints_steps: 0: no checkpoint
    during training, the final one only."""
    path = make_config(
        tmp_path,
        "simple_multi_task",
        extra="train_config { num_steps: 5 save_checkpoints_steps: 0 } "
        "data_config { batch_size: 32 }",
        features=FEW_FEATURES,
    )
    from easymtl.runner import Runner

    config = load_config(str(path))
    Runner(config).train()
    assert steps_saved(config.model_dir) == [5]
