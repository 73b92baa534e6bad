"""Every kind of bad input: one error line naming file, line or field, exit 2, and
model_dir exactly as it was before the run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import FEW_FEATURES, SAMPLES, make_config

from easymtl.export.__main__ import main as export_main
from easymtl.train import main as train_main

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

TRAIN = SAMPLES / "data" / "taobao_mtl_train.csv"
HEADER = (
    "clk,buy,pid,adgroup_id,cate_id,campaign_id,customer,brand,user_id,cms_segid,"
    "cms_group_id,final_gender_code,age_level,pvalue_level,shopping_level,occupation,"
    "new_user_class_level,tag_category_list,tag_brand_list,price"
)
COLUMNS = HEADER.split(",")


def rows(n: int = 300) -> list[str]:
    return TRAIN.read_text().splitlines()[:n]


def set_cell(lines: list[str], line: int, column: str, value: str) -> list[str]:
    """`lines` with the 1-based `line`'s `column` set to `value`."""
    cells = lines[line - 1].split(",")
    cells[COLUMNS.index(column)] = value
    return lines[: line - 1] + [",".join(cells)] + lines[line:]


def drop_cell(lines: list[str], line: int) -> list[str]:
    return lines[: line - 1] + [lines[line - 1].rsplit(",", 1)[0]] + lines[line:]


# name -> (data lines (None: the sample), config text merged in, expected message parts)
DATA_CASES = {
    "wrong_column_count": (
        lambda: drop_cell(rows(), 7),
        "",
        ["data.csv: line 7: expected 20 columns", "found 19"],
    ),
    "non_numeric_value": (
        lambda: set_cell(rows(), 9, "price", "cheap"),
        "",
        ["data.csv: line 9: column 'price': 'cheap' is not a valid INT64 value"],
    ),
    "empty_numeric_without_default": (
        lambda: set_cell(rows(), 12, "price", ""),
        "",
        ["data.csv: line 12: column 'price': empty INT64 value and no default_val"],
    ),
    "label_outside_domain": (
        lambda: set_cell(rows(), 40, "clk", "2"),
        "",
        ["data.csv: line 40: column 'clk': 2 is outside {0, 1}", "tower 'ctr'"],
    ),
    "nan_in_float_feature": (
        lambda: set_cell(rows(), 55, "price", "nan"),
        'data_config { input_fields { input_name: "price" input_type: FLOAT } }',
        ["data.csv: line 55: column 'price': nan is NaN or Inf"],
    ),
    "header_without_with_header": (
        lambda: [HEADER] + rows(),
        "",
        ["data.csv: line 1: is a header line", "with_header: true"],
    ),
    "empty_file": (lambda: [], "", ["data.csv: file is empty"]),
    # One cell too many: at the end of the line, and a delimiter inside an unquoted pid.
    "extra_field": (
        lambda: rows()[:6] + [rows()[6] + ",extra"] + rows()[7:],
        "",
        ["data.csv: line 7: expected 20 columns (data_config.input_fields), found 21"],
    ),
    "stray_delimiter": (
        lambda: set_cell(rows(), 8, "pid", "430548,1007"),
        "",
        ["data.csv: line 8: expected 20 columns (data_config.input_fields), found 21"],
    ),
    "header_column_renamed": (
        lambda: [HEADER.replace("user_id", "uid")] + rows(),
        "data_config { with_header: true }",
        [
            "data.csv: data_config.input_fields[8] 'user_id' is not in its header, which has "
            "'uid' as column 9"
        ],
    ),  # fmt: skip
    # Every row bad (input_fields lists a column the file lacks), then SKIP as advised:
    # the limit on skipped rows stops it, before anything is written.
    "every_row_bad_under_skip": (
        rows,
        'data_config { bad_row_policy: SKIP input_fields { input_name: "extra" } }',
        [
            "train_input_path: 300 of the 300 rows read are bad (100.0%), more than "
            "data_config.max_bad_row_fraction 0.01; the first:",
            "data.csv: line 1: expected 21 columns (data_config.input_fields), found 20",
        ],
    ),  # fmt: skip
    # ... and with any share allowed: no step is run, so nothing is saved or exported.
    "no_training_step": (
        rows,
        "data_config { bad_row_policy: SKIP max_bad_row_fraction: 1 input_fields { "
        'input_name: "extra" } }',
        [
            "train_input_path: no training step was run: every row read was bad (300 skipped); "
            "nothing is saved or exported"
        ],
    ),  # fmt: skip
    # Fewer rows than a batch, the remainder dropped: no step (not an endless loop of
    # empty epochs towards num_steps).
    "fewer_rows_than_a_batch": (
        rows,
        "data_config { batch_size: 512 drop_remainder: true } train_config { num_steps: 5 }",
        ["train_input_path: no training step was run: it yielded no batch"],
    ),
}


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def fix_price_field(config_path: Path) -> None:
    """make_config merges repeated input_fields by appending: keep the last 'price'."""
    text = config_path.read_text()
    first = text.index('input_name: "price"')
    start = text.rindex("input_fields {", 0, first)
    end = text.index("}", first) + 1
    config_path.write_text(text[:start] + text[end:])


def snapshot(model_dir: Path) -> dict[str, bytes] | None:
    if not model_dir.exists():
        return None
    return {
        str(p.relative_to(model_dir)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(model_dir.rglob("*"))
    }


# Every case with a new model_dir (removed again), two with one that existed (restored).
DATA_RUNS = [(case, False) for case in sorted(DATA_CASES)] + [
    ("label_outside_domain", True),
    ("wrong_column_count", True),
]


@pytest.mark.parametrize("case, existing_model_dir", DATA_RUNS)
def test_bad_data_stops_at_the_row_and_leaves_model_dir(tmp_path, capsys, case, existing_model_dir):
    make_lines, extra, expected = DATA_CASES[case]
    data = tmp_path / "data.csv"
    write_lines(data, make_lines())
    path = make_config(
        tmp_path,
        "mmoe",
        f'train_input_path: "{data}" eval_input_path: "{TRAIN}" data_config {{ batch_size: 64 }} '
        + extra,
        features=FEW_FEATURES,
    )
    if 'input_name: "price"' in extra:
        fix_price_field(path)
    model_dir = tmp_path / "model"
    if existing_model_dir:
        model_dir.mkdir()
        (model_dir / "notes.txt").write_text("kept\n")
    before = snapshot(model_dir)
    assert train_main(["--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: "), err
    for part in expected:
        assert part in err, err
    assert snapshot(model_dir) == before


def test_a_bad_row_after_the_first_checkpoint_stops_before_anything_is_written(tmp_path, capsys):
    """data_config.check_rows_before_training (on by default) reads every row first: a
    bad row that training would meet only after saving checkpoints stops the run before
    its first step. Without it, the checkpoints saved before the row stay (a resumable
    run, as after a signal)."""
    data = tmp_path / "data.csv"
    write_lines(data, set_cell(rows(), 290, "price", "cheap"))
    path = make_config(
        tmp_path,
        "mmoe",
        f'train_input_path: "{data}" eval_input_path: "" '
        "data_config { batch_size: 16 shuffle: false } "
        "train_config { save_checkpoints_steps: 2 }",
        features=FEW_FEATURES,
    )
    assert train_main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "data.csv: line 290: column 'price': 'cheap' is not a valid INT64 value" in err
    assert not (tmp_path / "model").exists()
    off = "--data_config.check_rows_before_training=false"
    assert train_main(["--config", str(path), off]) == 2
    assert "line 290" in capsys.readouterr().err
    assert list((tmp_path / "model").glob("model.ckpt-*.index"))


def test_evaluating_no_row_is_an_error_that_exports_nothing(tmp_path, capsys):
    data = tmp_path / "eval.csv"
    write_lines(data, [line + ",extra" for line in rows(50)])
    path = make_config(
        tmp_path,
        "mmoe",
        f'eval_input_path: "{data}" train_config {{ num_steps: 2 }} '
        "data_config { bad_row_policy: SKIP max_bad_row_fraction: 1 }",
        features=FEW_FEATURES,
    )
    assert train_main(["--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: eval_input_path: no row was evaluated: every row read was bad (50 skipped); "
        "no result is written, nothing exported"
    )
    model_dir = tmp_path / "model"
    assert (model_dir / "model.ckpt-2.index").exists()  # trained: the checkpoint stays
    for written in ("eval_result.json", "eval_history.jsonl", "export"):
        assert not (model_dir / written).exists(), written


def test_skip_policy_skips_and_counts_bad_rows(tmp_path, capsys):
    lines = rows(600)
    lines = drop_cell(lines, 7)
    lines = set_cell(lines, 9, "price", "cheap")
    lines = set_cell(lines, 40, "clk", "2")
    lines = set_cell(lines, 41, "buy", "-1")
    write_lines(tmp_path / "train.csv", lines)
    eval_lines = set_cell(set_cell(rows(400), 3, "price", ""), 100, "clk", "7")
    write_lines(tmp_path / "eval.csv", eval_lines)
    write_lines(tmp_path / "empty.csv", [])
    path = make_config(
        tmp_path,
        "mmoe",
        f'train_input_path: "{tmp_path}/train.csv,{tmp_path}/empty.csv" '
        f'eval_input_path: "{tmp_path}/eval.csv" '
        "data_config { batch_size: 64 bad_row_policy: SKIP } "
        "export_config { export_after_train: false }",
        features=FEW_FEATURES,
    )
    assert train_main(["--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "4 bad training rows skipped" in out, out
    assert "2 bad eval rows skipped" in out, out
    assert "empty.csv is empty; skipped" in out, out
    result = json.loads((tmp_path / "model" / "eval_result.json").read_text())
    assert result["bad_rows_skipped"] == 2
    assert result["train_bad_rows_skipped"] == 4
    assert result["num_examples"] == 398


# name -> (argv after --config, expected message parts); model_dir starts absent.
FLAG_CASES = {
    "unknown_flag": (["--num_stepz=3"], ["unrecognized argument '--num_stepz=3'"]),
    "unknown_dotted_flag": (["--train_config.num_stepz=3"], ["num_stepz"]),
    "eval_only_without_checkpoint": (["--eval_only"], ["no checkpoint"]),
    "missing_input": (["--train_input_path=/nonexistent/*.csv"], ["no file matches"]),
    "empty_input_path": (["--train_input_path="], ["train_input_path: no input path given"]),
    "edit_config_json_not_json": (["--edit_config_json={bad"], ["not valid JSON"]),
    "edit_config_json_not_object": (["--edit_config_json=[1]"], ["expected a JSON object"]),
    "unsupported_torcheasyrec_field": (
        ['--edit_config_json={"train_config.is_profiling": true}'],
        ["is_profiling"],
    ),
}


@pytest.mark.parametrize("case", sorted(FLAG_CASES))
def test_bad_flags_exit_2_and_write_nothing(tmp_path, capsys, case):
    argv, expected = FLAG_CASES[case]
    path = make_config(tmp_path, "mmoe")
    try:
        code = train_main(["--config", str(path), *argv])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    for part in expected:
        assert part in err, err
    assert not (tmp_path / "model").exists()


def test_export_dir_that_is_not_empty_is_refused(tmp_path, capsys):
    path = make_config(tmp_path, "mmoe")
    export_dir = tmp_path / "export"
    export_dir.mkdir()
    (export_dir / "x").write_text("")
    assert export_main(["--config", str(path), "--export_dir", str(export_dir)]) == 2
    assert "export_dir" in capsys.readouterr().err
    assert os.listdir(export_dir) == ["x"]


def test_checkpoint_of_another_model_is_one_clear_error(tmp_path, capsys):
    path = make_config(
        tmp_path,
        "mmoe",
        "train_config { num_steps: 2 } export_config { export_after_train: false } "
        "eval_input_path: ''",
    )
    assert train_main(["--config", str(path)]) == 0
    capsys.readouterr()
    other = ["--config", str(path), "--model_config.mmoe.num_expert=5"]
    assert train_main([*other, "--train_config.num_steps=4"]) == 2
    err = capsys.readouterr().err
    assert "is of a different model than this config" in err and err.count("\n") == 1, err
