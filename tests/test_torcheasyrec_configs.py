"""TorchEasyRec's own multi-task configs (copied into tests/configs/torcheasyrec/ with
their licence header) run with only their input changed: they load; they train, export
and serve through `saved_model_cli run`; and the loss of a first batch is TorchEasyRec's
formula, computed here by hand from the model's logits and the batch's labels."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from easymtl.config import load_config
from easymtl.testing.clean_process import saved_model_cli
from easymtl.testing.tzrec_configs import prepare, run_config
from easymtl.train import main as train_main

CONFIGS = Path(__file__).resolve().parent / "configs" / "torcheasyrec"
NAMES = sorted(p.name for p in CONFIGS.glob("*.config"))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Each copied config with its input rewritten to 64 generated rows."""
    root = tmp_path_factory.mktemp("tzrec")
    return {name: prepare(str(CONFIGS / name), str(root / name), rows=64) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_config_loads_with_only_its_input_changed(prepared, name):
    config = load_config(prepared[name])
    assert config.data_config.dataset_type == 2  # ParquetDataset
    original = (CONFIGS / name).read_text()
    rewritten = Path(prepared[name]).read_text()
    changed = [
        (a, b) for a, b in zip(original.splitlines(), rewritten.splitlines(), strict=True) if a != b
    ]
    assert all(
        any(k in a for k in ("train_input_path", "eval_input_path", "dataset_type"))
        for a, _ in changed
    ), changed


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "benchmark_taobao_mmoe.config",
        "pepnet_taobao.config",
        "tests_dbmtl_has_sequence_mock.config",
    ],
)
def test_config_trains_exports_and_serves(tmp_path, name):
    """Two steps (64 generated rows, batches of 32), the export, saved_model_cli run;
    tables capped at 10,000 rows, as tests/models/test_tzrec_ranking_configs.py's (their
    millions of rows take the suite's time and disk, and change nothing run here)."""
    result = run_config(
        str(CONFIGS / name),
        str(tmp_path),
        rows=64,
        extra_flags=("--data_config.batch_size=32",),
        train=train_main,
        serve=saved_model_cli,
        max_table_rows=10000,
    )
    assert result.stage == "served", result.error
    assert {"probs_ctr", "probs_cvr"} <= set(result.outputs)


def bce(logits, y):
    """PyTorch's BCEWithLogitsLoss(reduction="none")."""
    return np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))


def torcheasyrec_loss(tower, logits, labels) -> float:
    """TorchEasyRec's MultiTaskRank.loss for one binary tower: with a sample weight, a
    weight or a task space, loss_weight = sample weight x (in_w x in + out_w x (1 - in)),
    normalised by its batch mean, times the tower weight; the loss is mean(l x
    loss_weight). Else mean(l)."""
    y = labels[tower.label_name].astype(np.float64)
    per_row = bce(logits.astype(np.float64), y)
    has_weight = any(
        tower.HasField(f) for f in ("sample_weight_name", "weight", "task_space_indicator_label")
    )
    if not has_weight:
        return float(per_row.mean())
    w = np.ones_like(y)
    if tower.sample_weight_name:
        w = labels[tower.sample_weight_name].astype(np.float64)
    if tower.HasField("task_space_indicator_label"):
        space = (labels[tower.task_space_indicator_label] > 0).astype(np.float64)
        w = w * (tower.in_task_space_weight * space + tower.out_task_space_weight * (1 - space))
    w = w / w.mean() if w.mean() else w * 0.0
    return float(np.mean(per_row * w * tower.weight))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, model",
    [
        ("benchmark_taobao_mmoe.config", "mmoe"),
        ("ple_taobao.config", "ple"),
        ("dbmtl_taobao.config", "dbmtl"),
        ("pepnet_taobao.config", "pepnet"),
    ],
)
def test_first_batch_loss_is_torcheasyrec_formula(prepared, name, model):
    from easymtl.models import task_towers
    from easymtl.runner import Runner

    config = load_config(prepared[name])
    config.model_dir = os.path.join(os.path.dirname(prepared[name]), "loss_model")
    assert config.model_config.WhichOneof("model") == model
    runner = Runner(config)
    features, labels = runner.split(next(iter(runner.build_dataset(True))))
    outputs = runner.model(features, training=False)
    total, losses = runner.train_step.losses(labels, outputs)
    labels = {k: v.numpy() for k, v in labels.items()}
    expected = 0.0
    for tower in task_towers(config.model_config):
        want = torcheasyrec_loss(tower, outputs[f"logits_{tower.tower_name}"].numpy(), labels)
        # TorchEasyRec's tower loss includes the tower weight; easymtl's total does.
        got = tower.weight * float(losses[tower.tower_name])
        assert got == pytest.approx(want, rel=1e-5), tower.tower_name
        expected += want
    model_losses = sum(float(x) for x in runner.model.losses)
    assert float(total) == pytest.approx(expected + model_losses, rel=1e-5)
