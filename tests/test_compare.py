"""python -m easymtl.compare: the table's arithmetic, the seesaw flag, the derived
architectures, and one small end-to-end comparison on the sample data."""

from __future__ import annotations

import csv
import math
import re

import pytest
from conftest import SAMPLES, make_config

from easymtl.compare import click_conversion_pair
from easymtl.compare.__main__ import main
from easymtl.compare.architectures import (
    DERIVE,
    FROM_PAIR,
    NOT_COMPARED,
    SINGLE_TASK,
    architectures,
    block_sizes,
    multi_task_names,
)
from easymtl.compare.table import build_table, format_cell, to_csv, to_markdown
from easymtl.config import load_config
from easymtl.models import MODELS

TOWERS = {"ctr": ["auc_ctr"], "cvr": ["auc_cvr"]}


def test_means_stds_and_differences():
    table = build_table(
        {
            "single_task": {"auc_ctr": [0.70, 0.72, 0.74], "auc_cvr": [0.60, 0.61, 0.62]},
            "mmoe": {"auc_ctr": [0.75, 0.76, 0.77], "auc_cvr": [0.61, 0.62, 0.63]},
        },
        "single_task",
        TOWERS,
    )
    base, cell = table.cells["single_task", "auc_ctr"], table.cells["mmoe", "auc_ctr"]
    assert base.mean == pytest.approx(0.72) and base.std == pytest.approx(0.02)
    assert cell.mean == pytest.approx(0.76) and cell.std == pytest.approx(0.01)
    assert cell.diff == pytest.approx(0.04)
    assert cell.noise == pytest.approx(2 * math.sqrt(0.01**2 / 3 + 0.02**2 / 3))
    assert cell.better == 1  # 0.04 > 0.0258
    assert table.cells["mmoe", "auc_cvr"].better == 0  # 0.01 < 2 * sqrt(2e-4 / 3)
    assert table.seesaw["mmoe"] is False
    assert format_cell(cell) == "0.7600 ± 0.0100 (+0.0400 ▲)"
    assert format_cell(base) == "0.7200 ± 0.0200"


def test_seesaw_is_one_tower_up_and_another_down_beyond_noise():
    single = {"auc_ctr": [0.70, 0.71, 0.72], "auc_cvr": [0.60, 0.61, 0.62]}
    table = build_table(
        {
            "single_task": single,
            # ctr +0.05, cvr -0.05: both beyond 2 * sqrt(1e-4/3 + 1e-4/3) = 0.0163.
            "seesaw": {"auc_ctr": [0.75, 0.76, 0.77], "auc_cvr": [0.55, 0.56, 0.57]},
            # ctr +0.05, cvr -0.01: the drop is within noise.
            "within_noise": {"auc_ctr": [0.75, 0.76, 0.77], "auc_cvr": [0.59, 0.60, 0.61]},
            # Same means, spread so wide that nothing is beyond noise.
            "noisy": {"auc_ctr": [0.66, 0.76, 0.86], "auc_cvr": [0.46, 0.56, 0.66]},
        },
        "single_task",
        TOWERS,
    )
    assert table.seesaw == {"seesaw": True, "within_noise": False, "noisy": False}
    assert table.cells["seesaw", "auc_cvr"].better == -1
    assert table.cells["within_noise", "auc_cvr"].better == 0
    markdown = to_markdown(table)
    assert "| seesaw | 0.7600 ± 0.0100 (+0.0500 ▲) | 0.5600 ± 0.0100 (-0.0500 ▼) | **yes** |" in (
        markdown
    )


def test_differences_below_the_printed_precision_are_never_called():
    table = build_table(
        {
            "single_task": {"auc_ctr": [0.99420, 0.99420], "auc_cvr": [0.5, 0.6]},
            "mmoe": {"auc_ctr": [0.99416, 0.99416], "auc_cvr": [0.5, 0.6]},
        },
        "single_task",
        TOWERS,
    )
    cell = table.cells["mmoe", "auc_ctr"]
    assert cell.noise == pytest.approx(1e-4) and cell.better == 0


def test_lower_is_better_for_losses_and_errors():
    table = build_table(
        {
            "single_task": {"loss_a": [1.0, 1.1, 1.2], "mean_squared_error_b": [2.0, 2.1, 2.2]},
            "mmoe": {"loss_a": [0.5, 0.6, 0.7], "mean_squared_error_b": [2.5, 2.6, 2.7]},
        },
        "single_task",
        {"a": ["loss_a"], "b": ["mean_squared_error_b"]},
    )
    assert table.cells["mmoe", "loss_a"].better == 1
    assert table.cells["mmoe", "mean_squared_error_b"].better == -1
    assert table.seesaw["mmoe"] is True


def test_one_seed_calls_nothing_and_csv_has_every_number():
    table = build_table(
        {"single_task": {"auc_ctr": [0.7]}, "ple": {"auc_ctr": [0.8], "auc_cvr": [0.6]}},
        "single_task",
        TOWERS,
    )
    cell = table.cells["ple", "auc_ctr"]
    assert cell.std is None and cell.noise is None and cell.better == 0
    assert cell.diff == pytest.approx(0.1)
    assert table.seesaw["ple"] is None
    assert "| ple | 0.8000 (+0.1000) | 0.6000 | n/a |" in to_markdown(table)
    rows = list(csv.DictReader(to_csv(table).splitlines()))
    assert [r["architecture"] for r in rows] == ["single_task", "ple"]
    assert float(rows[1]["auc_ctr_diff"]) == pytest.approx(0.1)
    assert rows[1]["auc_ctr_std"] == "" and rows[0]["auc_cvr_mean"] == ""


def test_architectures_follow_the_config_sizes(tmp_path):
    config = load_config(str(make_config(tmp_path, "mmoe")))
    runs = architectures(config.model_config, ("ctr", "cvr"))
    names = [r.name for r in runs]
    assert names[:3] == ["single_task_ctr", "single_task_cvr", "mmoe"]
    assert {"shared_bottom", "omoe", "ple", "esmm"} <= set(names)
    by_name = {r.name: r.model_config for r in runs}
    expert = list(config.model_config.mmoe.expert_mlp.hidden_units)
    assert list(by_name["shared_bottom"].shared_bottom.bottom_mlp.hidden_units) == expert
    assert list(by_name["single_task_cvr"].shared_bottom.bottom_mlp.hidden_units) == expert
    assert [t.tower_name for t in by_name["single_task_cvr"].shared_bottom.task_towers] == ["cvr"]
    assert by_name["omoe"].mmoe.share_gate and by_name["omoe"].mmoe.num_expert == 3
    levels = by_name["ple"].ple.extraction_networks
    assert [list(lv.task_expert_net.hidden_units) for lv in levels] == [expert, expert[-1:]]
    assert [(lv.expert_num_per_task, lv.share_num) for lv in levels] == [(1, 1), (1, 1)]
    assert {r.name: r.columns for r in runs}["esmm"] == {
        "auc_ctr": "auc_ctr",
        "auc_cvr": "auc_ctcvr",
    }
    only = architectures(config.model_config, None, ["single_task", "ple"])
    assert [r.name for r in only] == ["single_task_ctr", "single_task_cvr", "ple"]
    assert block_sizes(by_name["ple"]).num_expert == 3


def test_every_registered_model_is_compared_or_says_why_not():
    for name in MODELS.names():
        reasons = [name in DERIVE, name in FROM_PAIR, name in NOT_COMPARED]
        assert sum(reasons) == 1, f"model {name!r}: derive it in compare/architectures.py"
    assert set(multi_task_names()) == (set(MODELS.names()) - set(NOT_COMPARED)) | {"omoe"}


def test_the_docs_row_table_lists_the_architectures():
    text = (SAMPLES.parent / "docs" / "reproductions.md").read_text()
    table = text.split("| row | what is trained |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \|", table, re.M)
    assert rows == [SINGLE_TASK, "<model> (config)", *multi_task_names()]


def test_aitm_is_derived_only_where_it_takes_the_towers(tmp_path):
    config = load_config(str(make_config(tmp_path, "mmoe")))
    runs = {r.name: r.model_config for r in architectures(config.model_config)}
    assert [t.tower_name for t in runs["aitm"].aitm.task_towers] == ["ctr", "cvr"]
    # A regression tower: AITM's funnel of binary steps does not fit; left out.
    losses = config.model_config.mmoe.task_towers[1].losses
    del losses[:]
    losses.add().l2_loss.SetInParent()
    del config.model_config.mmoe.task_towers[1].metrics[:]
    names = [r.name for r in architectures(config.model_config)]
    assert "aitm" not in names and "mmoe" in names and "ple" in names


def test_dbmtl_towers_become_plain_towers_in_the_other_architectures(tmp_path):
    config = load_config(str(make_config(tmp_path, "dbmtl")))
    runs = {r.name: r.model_config for r in architectures(config.model_config, ("ctr", "cvr"))}
    assert list(runs["dbmtl"].dbmtl.task_towers[1].relation_tower_names) == ["ctr"]
    [cvr] = runs["single_task_cvr"].shared_bottom.task_towers
    assert cvr.tower_name == "cvr" and list(cvr.mlp.hidden_units) == [32]
    assert [m.WhichOneof("metric") for m in cvr.metrics] == ["auc"]
    assert [t.tower_name for t in runs["mmoe"].mmoe.task_towers] == ["ctr", "cvr"]


def test_click_conversion_pair_from_the_data(tmp_path):
    config = load_config(str(make_config(tmp_path, "mmoe")))
    assert click_conversion_pair(config) == ("ctr", "cvr")  # buy = 1 only where clk = 1
    config.model_config.mmoe.task_towers[1].label_name = "clk"
    assert click_conversion_pair(config) is None


# A small model on three features: the end-to-end run stays within a few seconds a run.
SMALL = """
model_config { feature_groups { group_name: "all" feature_names: ["user_id", "adgroup_id",
    "pid"] } }
data_config { batch_size: 128 }
train_config { save_checkpoints_steps: 1000 use_tensorboard: false }
"""


def small_config(tmp_path):
    from google.protobuf import text_format

    path = make_config(tmp_path, "mmoe")
    config = load_config(str(path))
    config.model_config.ClearField("feature_groups")
    text_format.Merge(SMALL, config)
    path.write_text(text_format.MessageToString(config))
    return path


def test_compare_end_to_end(tmp_path, capsys):
    # No --output_dir: the report goes to <model_dir>/compare. The eval rows hold no buy,
    # as the real Taobao sample's eval slice: auc_cvr is undefined and left out.
    lines = (SAMPLES / "data" / "taobao_mtl_eval.csv").read_text().splitlines()
    no_buy = tmp_path / "no_buy.csv"
    no_buy.write_text("\n".join(r for r in lines[:1000] if r.split(",")[1] == "0") + "\n")
    out = tmp_path / "model" / "compare"
    argv = ["--config", str(small_config(tmp_path)), "--eval_input_path", str(no_buy)]
    argv += ["--seeds", "1", "--num_steps", "20", "--max_rows", "1000"]
    assert main([*argv, "--architectures", "single_task,shared_bottom,mmoe"]) == 0
    printed = capsys.readouterr().out
    assert "[4/4] shared_bottom seed 0: auc_ctr " in printed
    assert "[2/4] single_task_cvr seed 0: auc_cvr n/a" in printed
    assert f"report in {out}" in printed
    assert "note: left out as undefined on the eval data (null): auc_cvr of single_task" in (
        printed
    )
    for name in ("table.md", "table.csv", "runs.csv"):
        assert (out / name).stat().st_size > 0
    pytest.importorskip("matplotlib")
    assert (out / "mtl_gain.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader((out / "table.csv").read_text().splitlines()))
    assert [r["architecture"] for r in rows] == ["single_task", "mmoe", "shared_bottom"]
    assert rows[0]["auc_ctr_mean"] and not rows[0]["auc_cvr_mean"]
    table = (out / "table.md").read_text()
    assert "| mmoe (config) |" in table and "| shared_bottom |" in table
    assert "Left out as undefined on the eval data" in table and "auc_cvr of mmoe seed 0" in table
    assert (out / "runs" / "single_task_cvr" / "seed0" / "eval_result.json").exists()


def test_errors_are_one_line_and_exit_2(tmp_path, capsys):
    path = small_config(tmp_path)
    out = str(tmp_path / "out")
    assert main(["--config", str(path), "--output_dir", out, "--architectures", "dnn"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --architectures: unknown 'dnn'") and "\n" not in err
    assert main(["--config", str(path), "--output_dir", out, "--eval_input_path", ""]) == 2
    assert "eval_input_path" in capsys.readouterr().err
