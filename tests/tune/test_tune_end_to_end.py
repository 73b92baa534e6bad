"""python -m easymtl.tune end to end: a tiny study on the sample data, resumed, with
failed trials, and its best.config trained."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from conftest import FEW_FEATURES, ROOT, make_config
from google.protobuf import text_format

from easymtl.config import PipelineConfig
from easymtl.tune.__main__ import main

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

SPACE = """
train_config.dense_optimizer.adam_optimizer.lr: {type: float, low: 1e-4, high: 1e-2, log: true}
model_config.mmoe.num_expert: {type: int, low: 2, high: 3}
model_config.mmoe.expert_mlp.hidden_units: [[16], [32, 16]]
feature_configs[feature_name=user_id].id_feature.embedding_dim: [4, 8]
model_config.mmoe.task_towers[tower_name=ctr].weight: {type: float, low: 0.5, high: 2.0}
"""


def _rows(out):
    with open(out / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_study_runs_resumes_survives_failed_trials_and_its_best_config_trains(tmp_path, capsys):
    config = make_config(tmp_path, extra="eval_config { num_steps: 2 }", features=FEW_FEATURES)
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    out = tmp_path / "study"
    args = [
        "--config", str(config), "--search_space", str(space), "--output_dir", str(out),
        "--metric", "auc_ctr", "--seed", "1", "--train_config.num_steps=3",
    ]  # fmt: skip

    assert main([*args, "--n_trials", "2", "--delete_models"]) == 0
    printed = capsys.readouterr().out
    rows = _rows(out)
    assert [(r["trial"], r["state"]) for r in rows] == [("0", "complete"), ("1", "complete")]
    for r in rows:
        result = json.loads((out / f"trial_{r['trial']}" / "eval_result.json").read_text())
        assert float(r["auc_ctr"]) == result["auc_ctr"]  # the CSV in full
        assert result["global_step"] == 3
        assert r["model_config.mmoe.expert_mlp.hidden_units"] in ("[16]", "[32, 16]")
        assert 2 <= int(r["model_config.mmoe.num_expert"]) <= 3
        kept = sorted(p.name for p in (out / f"trial_{r['trial']}").iterdir())
        assert not [n for n in kept if n.startswith(("model.ckpt", "checkpoint", "export"))]
    assert "| trial | state | auc_ctr |" in printed
    assert printed.count("| complete |") == 2
    assert (out / "trials.md").read_text().startswith("| trial | state | auc_ctr |")
    assert (out / "trials.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "study.db").is_file()
    first_log = (out / "trial_0.log").stat().st_mtime_ns

    # Resumed to 4 trials, with every new trial failing (no training data): each is
    # recorded with its error line and the study goes on; the first two stay.
    missing = tmp_path / "missing.csv"
    assert main([*args, "--n_trials", "4", f"--train_input_path={missing}"]) == 0
    printed = capsys.readouterr().out
    rows = _rows(out)
    assert [(r["trial"], r["state"]) for r in rows] == [
        ("0", "complete"), ("1", "complete"), ("2", "fail"), ("3", "fail"),
    ]  # fmt: skip
    for r in rows[2:]:
        assert f"train_input_path: no file matches {str(missing)!r}" in r["error"], r["error"]
        assert f"trial {r['trial']} failed after" in printed
    assert (out / "trial_0.log").stat().st_mtime_ns == first_log
    # Already at 4: a rerun runs nothing and reports the same study.
    assert main([*args, "--n_trials", "4"]) == 0
    assert len(_rows(out)) == 4

    # best.config is the best complete trial's config; it trains as it is.
    best_trial = max(rows[:2], key=lambda r: float(r["auc_ctr"]))
    text = (out / "best.config").read_text()
    assert f"trial {best_trial['trial']}, auc_ctr {float(best_trial['auc_ctr']):.4f}" in text
    best = PipelineConfig()
    text_format.Parse(text, best)
    assert best.model_config.mmoe.num_expert == int(best_trial["model_config.mmoe.num_expert"])
    assert (
        json.dumps(list(best.model_config.mmoe.expert_mlp.hidden_units))
        == (best_trial["model_config.mmoe.expert_mlp.hidden_units"])
    )
    # The trials' budget (the tuner's --train_config.num_steps=3) is not the config's:
    # left out, and named in the header.
    assert not best.train_config.HasField("num_steps")
    assert "left out\n" in text and "#   train_config.num_steps: 3\n" in text
    assert best.train_input_path != str(missing)
    assert best.model_dir == str(out / "best_model")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "easymtl.train",
            "--config",
            str(out / "best.config"),
            "--train_config.num_steps=3",
        ],  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((out / "best_model" / "eval_result.json").read_text())
    assert result["global_step"] == 3
