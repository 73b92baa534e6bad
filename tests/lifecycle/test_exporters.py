"""exporter_type latest (an export per evaluation, the newest exports_to_keep kept) and
none (no export), through the train CLI."""

from __future__ import annotations

import json

import pytest
from conftest import FEW_FEATURES, make_config

from easymtl.train import main as train_main

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

EXTRA = (
    "train_config { num_steps: 4 save_checkpoints_steps: 2 } data_config { batch_size: 32 } "
    "eval_config { num_steps: 1 eval_interval_steps: 2 } "
)


def test_latest_exports_after_each_evaluation_and_keeps_the_newest(tmp_path, capsys):
    path = make_config(
        tmp_path, "mmoe", EXTRA + "export_config { exports_to_keep: 1 }", features=FEW_FEATURES
    )
    assert train_main(["--config", str(path)]) == 0
    log = capsys.readouterr().out.splitlines()
    exported = [line for line in log if "exported SavedModel to" in line]
    assert len(exported) == 2  # after the evaluations at 2 and 4, none more at the end
    (kept,) = (tmp_path / "model" / "export").iterdir()
    assert exported[-1].endswith(str(kept)) and (kept / "saved_model.pb").exists()
    steps = [
        json.loads(line)["global_step"]
        for line in (tmp_path / "model" / "eval_history.jsonl").read_text().splitlines()
    ]
    assert steps == [2, 4]


def test_none_exports_nothing(tmp_path):
    path = make_config(
        tmp_path, "mmoe", EXTRA + 'export_config { exporter_type: "none" }', features=FEW_FEATURES
    )
    assert train_main(["--config", str(path)]) == 0
    assert not (tmp_path / "model" / "export").exists()
