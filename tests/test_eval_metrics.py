"""Metrics that need more than a tower's label and prediction, through the runner: GAUC
reads its grouping column (even one no feature uses), normalized entropy and log loss;
each equals a hand computation over the model's outputs on the eval file."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import FEW_FEATURES, SAMPLES, make_config
from google.protobuf import text_format

from easymtl import testing
from easymtl.config import PipelineConfig, load_config
from easymtl.errors import EasymtlError
from easymtl.runner import Runner
from easymtl.train import main as train_main

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

TOWERS = """
    task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [16] }
        losses { binary_cross_entropy {} }
        metrics { grouped_auc { grouping_key: "user_id" } }
        metrics { normalized_entropy {} } metrics { log_loss {} } }
"""


def _config(tmp_path, grouping_key="user_id"):
    config = PipelineConfig()
    text_format.Parse(make_config(tmp_path, "simple_multi_task").read_text(), config)
    group = config.model_config.feature_groups[0]
    names = [n for n in group.feature_names if n != "user_id"]
    group.ClearField("feature_names")
    group.feature_names.extend(names)
    config.model_config.simple_multi_task.ClearField("task_towers")
    text_format.Merge(
        TOWERS.replace("user_id", grouping_key), config.model_config.simple_multi_task
    )
    text_format.Merge(
        "train_config { num_steps: 40 } data_config { batch_size: 512 eval_batch_size: 1024 }",
        config,
    )
    path = tmp_path / "gauc.config"
    path.write_text(text_format.MessageToString(config))
    return str(path)


def test_eval_reports_gauc_ne_and_log_loss_as_computed_by_hand(tmp_path):
    runner = Runner(load_config(_config(tmp_path)))
    assert "user_id" not in runner.inputs.input_names and "user_id" in runner.inputs.label_names
    runner.train()
    result = runner.evaluate()

    users, labels, probs = [], [], []
    for batch in runner.build_dataset(training=False):
        features, batch_labels = runner.split(batch)
        probs.append(runner.model(features, training=False)["probs_ctr"].numpy())
        labels.append(batch_labels["clk"].numpy())
        users.append(batch_labels["user_id"].numpy())
    users, labels, probs = map(np.concatenate, (users, labels, probs))
    aucs = []  # GAUC by default is the plain mean over groups, as TorchEasyRec's
    for user in np.unique(users):
        rows = users == user
        if 0 < labels[rows].sum() < rows.sum():
            aucs.append(testing.exact_auc(labels[rows], probs[rows]))
    assert result["grouped_auc_ctr"] == pytest.approx(np.mean(aucs), abs=1e-3)
    p = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)
    log_loss = -np.mean(labels * np.log(p) + (1 - labels) * np.log1p(-p))
    rate = labels.mean()
    entropy = -(rate * np.log(rate) + (1 - rate) * np.log(1 - rate))
    assert result["log_loss_ctr"] == pytest.approx(log_loss, rel=1e-4)
    assert result["normalized_entropy_ctr"] == pytest.approx(log_loss / entropy, rel=1e-4)
    assert result["normalized_entropy_ctr"] < 1.0  # it learned something beyond the base rate


def test_grouping_key_must_be_an_input_field(tmp_path):
    with pytest.raises(EasymtlError, match=r"grouped_auc: reads input field 'uid'"):
        load_config(_config(tmp_path, "uid"))


def test_auc_of_one_class_is_null_and_na_with_a_warning(config_factory, tmp_path, capsys):
    # The real Taobao sample's eval slice has no buy: its CVR AUC is undefined, not 0.
    lines = (SAMPLES / "data" / "taobao_mtl_eval.csv").read_text().splitlines()
    no_buy = [line for line in lines[:2000] if line.split(",")[1] == "0"]
    eval_path = tmp_path / "no_buy.csv"
    eval_path.write_text("\n".join(no_buy) + "\n")
    path = config_factory(
        "mmoe",
        f'eval_input_path: "{eval_path}" train_config {{ num_steps: 5 }} '
        "export_config { export_after_train: false }",
        features=FEW_FEATURES,
    )
    assert train_main(["--config", str(path)]) == 0
    log = capsys.readouterr().out
    result = json.loads((tmp_path / "model" / "eval_result.json").read_text())
    assert result["auc_cvr"] is None
    assert 0.0 < result["auc_ctr"] < 1.0 and result["loss_cvr"] > 0.0
    assert re.search(r"eval at step 5 .*auc_cvr n/a", log)
    warning = [line for line in log.splitlines() if "WARNING" in line and "auc_cvr" in line]
    assert len(warning) == 1 and "tower cvr, label buy" in warning[0], log
    assert "only one class" in warning[0]
