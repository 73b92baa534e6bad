"""python -m easymtl.predict: scores files with an export, equal to the export's outputs."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import FEW_FEATURES, SAMPLES, make_config

from easymtl import testing
from easymtl.config import load_config
from easymtl.predict import _columns
from easymtl.predict import main as predict_main
from easymtl.protos import data_pb2
from easymtl.train import main as train_main

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

ROWS_A, ROWS_B = 500, 300
RESERVED = ["user_id", "adgroup_id", "clk", "buy"]


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A tiny trained MMoE export, the first ROWS_A + ROWS_B eval rows split into two
    files, and the export's outputs on those rows from a process without easymtl."""
    tmp = tmp_path_factory.mktemp("predict")
    path = make_config(
        tmp, "mmoe", "train_config { num_steps: 5 } eval_input_path: ''", features=FEW_FEATURES
    )
    assert train_main(["--config", str(path)]) == 0
    config = load_config(str(path))
    (export_dir,) = (Path(config.model_dir) / "export").iterdir()

    lines = (SAMPLES / "data" / "taobao_mtl_eval.csv").read_text().splitlines()
    lines = lines[: ROWS_A + ROWS_B]
    data = tmp / "data"
    data.mkdir()
    (data / "part-0.csv").write_text("\n".join(lines[:ROWS_A]) + "\n")
    (data / "part-1.csv").write_text("\n".join(lines[ROWS_A:]) + "\n")

    import tensorflow as tf

    signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    input_names = set(signature.structured_input_signature[1])
    fields = config.data_config.input_fields
    cols = {f.input_name: [] for f in fields}
    for line in lines:
        for f, value in zip(fields, line.split(","), strict=True):
            cols[f.input_name].append(value)
    inputs = {
        f.input_name: cols[f.input_name]
        if f.input_type == data_pb2.STRING
        else [int(v) for v in cols[f.input_name]]
        for f in fields
        if f.input_name in input_names
    }
    served = testing.serve_in_clean_process(str(export_dir), inputs)
    return {
        "dir": str(export_dir),
        "config": config,
        "data": data,
        "cols": cols,
        "served": served,
    }


def read_csv(path) -> tuple[list[str], dict[str, list[str]]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return header, {name: [r[i] for r in body] for i, name in enumerate(header)}


def check_outputs(export, cols: dict[str, list[str]], rows: slice, names=("ctr", "cvr")):
    for name in RESERVED:
        if name in cols:
            assert cols[name] == export["cols"][name][rows], name
    for tower in names:
        got = np.asarray(cols[f"probs_{tower}"], dtype=np.float64)
        np.testing.assert_allclose(got, export["served"][f"probs_{tower}"][rows], atol=1e-6)


def test_csv_output_equals_export(export, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    argv = [
        "--saved_model_dir", export["dir"],
        "--input_path", str(export["data"] / "part-0.csv"),
        "--output_path", str(out),
        "--reserved_cols", ",".join(RESERVED),
        "--batch_size", "64",
        "--log_every_n_batches", "2",
    ]  # fmt: skip
    assert predict_main(argv) == 0
    stdout = capsys.readouterr().out
    assert "INFO predict 128/500 rows (26%), " in stdout and " rows/sec, eta " in stdout
    summary = stdout.strip().splitlines()[-1]
    assert summary.startswith(f"predicted {ROWS_A} rows from 1 file in ")
    assert summary.endswith(f"rows/sec) -> {out}")

    header, cols = read_csv(out)
    # Default outputs: every probs_* / y_* / score output, and nothing else.
    defaults = sorted(n for n in export["served"] if n.startswith(("probs_", "y_")) or n == "score")
    assert defaults == ["probs_ctr", "probs_cvr"]
    assert header == RESERVED + defaults
    assert len(cols["user_id"]) == ROWS_A
    check_outputs(export, cols, slice(0, ROWS_A))
    assert os.listdir(tmp_path) == ["scores.csv"], "temporary file left behind"


def test_glob_of_files_in_order_and_output_cols(export, tmp_path):
    out = tmp_path / "sub" / "scores.csv"
    argv = [
        "--saved_model_dir", export["dir"],
        "--input_path", str(export["data"] / "part-*.csv"),
        "--output_path", str(out),
        "--reserved_cols", "user_id",
        "--output_cols", "logits_cvr,probs_ctr",
        "--data_config.eval_batch_size=128",
    ]  # fmt: skip
    assert predict_main(argv) == 0
    header, cols = read_csv(out)
    assert header == ["user_id", "logits_cvr", "probs_ctr"]
    check_outputs(export, cols, slice(0, ROWS_A + ROWS_B), names=("ctr",))
    np.testing.assert_allclose(
        np.asarray(cols["logits_cvr"], dtype=np.float64), export["served"]["logits_cvr"], atol=1e-5
    )


def test_parquet_output(export, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is not installed")
    out = tmp_path / "scores.parquet"
    argv = [
        "--saved_model_dir", export["dir"],
        "--input_path", str(export["data"] / "part-*.csv"),
        "--output_path", str(out),
        "--reserved_cols", ",".join(RESERVED),
    ]  # fmt: skip
    assert predict_main(argv) == 0
    table = pq.read_table(out)
    assert table.column_names == RESERVED + ["probs_ctr", "probs_cvr"]
    assert table.num_rows == ROWS_A + ROWS_B
    cols = table.to_pydict()
    assert cols["user_id"] == export["cols"]["user_id"]
    assert cols["clk"] == [int(v) for v in export["cols"]["clk"]]
    for tower in ("ctr", "cvr"):
        np.testing.assert_allclose(
            cols[f"probs_{tower}"], export["served"][f"probs_{tower}"], atol=1e-6
        )


def test_parquet_input(export, tmp_path):
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed")
    import pyarrow.parquet as pq

    config = export["config"]
    types = {
        data_pb2.STRING: pa.string(),
        data_pb2.INT32: pa.int32(),
        data_pb2.INT64: pa.int64(),
    }
    rows = slice(0, ROWS_A)
    arrays, names = [], []
    for f in config.data_config.input_fields:
        values = export["cols"][f.input_name][rows]
        if f.input_type != data_pb2.STRING:
            values = [int(v) for v in values]
        arrays.append(pa.array(values, type=types[f.input_type]))
        names.append(f.input_name)
    source = tmp_path / "input.parquet"
    pq.write_table(pa.Table.from_arrays(arrays, names=names), source)
    out = tmp_path / "scores.csv"
    argv = [
        "--saved_model_dir", export["dir"],
        "--input_path", str(source),
        "--output_path", str(out),
        "--reserved_cols", "user_id,adgroup_id",
        "--data_config.dataset_type=ParquetDataset",
    ]  # fmt: skip
    assert predict_main(argv) == 0
    _, cols = read_csv(out)
    assert len(cols["user_id"]) == ROWS_A
    check_outputs(export, cols, rows)


@pytest.fixture
def no_signature_model(tmp_path):
    import tensorflow as tf

    path = tmp_path / "no_signature"
    tf.saved_model.save(tf.Module(), str(path))
    return str(path)


@pytest.mark.parametrize(
    "case, flag",
    [
        ("missing_saved_model", "--saved_model_dir"),
        ("no_serving_default", "--saved_model_dir"),
        ("unknown_reserved_col", "--reserved_cols"),
        ("unknown_output_col", "--output_cols"),
        ("input_matches_nothing", "--input_path"),
        ("output_exists", "--output_path"),
        ("unsupported_extension", "--output_path"),
        ("bad_input_data", "--input_path"),
    ],
)
def test_errors_exit_2_without_output(export, tmp_path, capsys, case, flag, request):
    out = tmp_path / "out" / ("scores.json" if case == "unsupported_extension" else "scores.csv")
    args = {
        "--saved_model_dir": export["dir"],
        "--input_path": str(export["data"] / "part-*.csv"),
        "--output_path": str(out),
        "--reserved_cols": "user_id",
    }
    if case == "missing_saved_model":
        args["--saved_model_dir"] = str(tmp_path / "nowhere")
    elif case == "no_serving_default":
        args["--saved_model_dir"] = request.getfixturevalue("no_signature_model")
        args["--config"] = str(tmp_path / "unused.config")
    elif case == "unknown_reserved_col":
        args["--reserved_cols"] = "user_id,no_such_col"
    elif case == "unknown_output_col":
        args["--output_cols"] = "probs_ctr,probs_nothing"
    elif case == "input_matches_nothing":
        args["--input_path"] = str(tmp_path / "missing-*.csv")
    elif case == "output_exists":
        out.parent.mkdir()
        out.write_text("keep me\n")
    elif case == "bad_input_data":
        # The first file scores fine; the second has a non-integer price.
        bad = tmp_path / "bad"
        bad.mkdir()
        good = (export["data"] / "part-0.csv").read_text()
        (bad / "a.csv").write_text(good)
        fields = good.splitlines()[0].split(",")
        fields[-1] = "not_a_number"
        (bad / "b.csv").write_text(",".join(fields) + "\n")
        args["--input_path"] = str(bad / "*.csv")
    if case == "no_serving_default":
        # The config must load for the check to be reached; any valid one will do.
        Path(args["--config"]).write_text(
            (Path(export["dir"]) / "assets" / "pipeline.config").read_text()
        )
    argv = [x for kv in args.items() for x in kv]

    assert predict_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and flag in err[0], err
    if case == "output_exists":
        assert out.read_text() == "keep me\n"
    else:
        assert not out.exists()
        assert not out.parent.exists() or not os.listdir(out.parent), "partial output left"


def test_multiclass_output_becomes_k_columns():
    values = np.arange(6, dtype=np.float32).reshape(3, 2)
    cols = _columns("probs_cls", values)
    assert list(cols) == ["probs_cls_0", "probs_cls_1"]
    np.testing.assert_array_equal(cols["probs_cls_1"], [1, 3, 5])
    assert list(_columns("score", values[:, 0])) == ["score"]


def test_base_directory_uses_its_newest_version(export, tmp_path, capsys):
    """model_dir/export, as a TensorFlow Serving user points at it: the highest-numbered
    version is scored (numerically: 10 beats 9), other entries are ignored."""
    base = tmp_path / "export"
    base.mkdir()
    (base / "9").mkdir()  # not a SavedModel: picking it would fail
    os.symlink(export["dir"], base / "10")
    (base / ".tmp-export-0123").mkdir()
    (base / "notes.txt").write_text("x")
    out = tmp_path / "scores.csv"
    argv = ["--saved_model_dir", str(base), "--input_path", str(export["data"] / "part-0.csv")]
    assert predict_main([*argv, "--output_path", str(out), "--reserved_cols", "user_id"]) == 0
    assert f"using its newest version, {base / '10'}" in capsys.readouterr().out
    _, cols = read_csv(out)
    check_outputs(export, cols, slice(0, ROWS_A))


def test_skip_bad_rows_flag(export, tmp_path, capsys):
    """A bad row stops predict with a message naming predict's own flag; with the flag
    it is skipped, counted, and the good rows are scored as without it."""
    bad = tmp_path / "bad.csv"
    lines = (export["data"] / "part-0.csv").read_text().splitlines()
    fields = lines[3].split(",")
    fields[-1] = "not_a_number"
    lines[3] = ",".join(fields)
    bad.write_text("\n".join(lines) + "\n")
    args = ["--saved_model_dir", export["dir"], "--input_path", str(bad)]
    args += ["--reserved_cols", "user_id"]

    assert predict_main([*args, "--output_path", str(tmp_path / "a.csv")]) == 2
    (err,) = capsys.readouterr().err.strip().splitlines()
    assert "line 4" in err and "pass --skip_bad_rows" in err, err
    assert "data_config.bad_row_policy" not in err, err

    out = tmp_path / "b.csv"
    assert predict_main([*args, "--output_path", str(out), "--skip_bad_rows"]) == 0
    assert "1 bad rows skipped" in capsys.readouterr().out
    _, cols = read_csv(out)
    kept = [i for i in range(ROWS_A) if i != 3]
    assert cols["user_id"] == [export["cols"]["user_id"][i] for i in kept]
    got = np.asarray(cols["probs_ctr"], dtype=np.float64)
    np.testing.assert_allclose(got, export["served"]["probs_ctr"][kept], atol=1e-6)


def test_an_export_dir_of_best_exports_uses_the_newest_best(export, tmp_path, capsys):
    """exporter_type "best" writes model_dir/export/best/<timestamp>: model_dir/export
    (what a user points at) then stands for export/best."""
    base = tmp_path / "export"
    (base / "best").mkdir(parents=True)
    os.symlink(export["dir"], base / "best" / "17")
    out = tmp_path / "scores.csv"
    argv = ["--saved_model_dir", str(base), "--input_path", str(export["data"] / "part-0.csv")]
    assert predict_main([*argv, "--output_path", str(out), "--reserved_cols", "user_id"]) == 0
    printed = capsys.readouterr().out
    assert f"{base}: using its best exports' newest version, {base / 'best' / '17'}" in printed
    _, cols = read_csv(out)
    check_outputs(export, cols, slice(0, ROWS_A))
