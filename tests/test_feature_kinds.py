"""The feature kinds and options of real ranking configs, end to end: lookup_feature,
match_feature, vocab_dict / vocab_file / default_bucketize_value, weighted ids and
raw_feature value_dim > 1 train, export and serve from the raw CSV columns; bad input is
one error line, exit 2, nothing written."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import TOWERS

from easymtl.config import load_config
from easymtl.export import export_saved_model
from easymtl.runner import Runner
from easymtl.testing import serve_in_clean_process
from easymtl.train import main as train_main

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

COLUMNS = ["clk", "buy", "user_id", "cate", "brand", "level", "tags", "pic_emb", "kv_cnt", "kkv"]


def write_data(path: Path, n: int = 256, seed: int = 0) -> Path:
    """`n` rows whose clk depends on the looked-up count and the weighted tags."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        for _ in range(n):
            cate, brand = f"c{rng.integers(4)}", f"b{rng.integers(3)}"
            counts = {f"c{i}": int(rng.integers(6)) for i in rng.choice(4, 2, replace=False)}
            kv = "|".join(f"{k}:{v}" for k, v in counts.items())
            kkv = "|".join(
                f"{k}^" + ",".join(f"b{j}:{rng.random():.3f}" for j in range(2)) for k in counts
            )
            tags = "|".join(f"t{t}:{rng.random() * 2:.2f}" for t in rng.choice(5, 2, replace=False))
            emb = "|".join(f"{v:.3f}" for v in rng.normal(size=4))
            score = counts.get(cate, 0) / 5 + ("t1:" in tags)
            clk = int(rng.random() < 0.2 + 0.5 * score / 2)
            level = ["low", "mid", "high", "top"][rng.integers(4)]
            out.writerow([clk, clk * int(rng.random() < 0.3), f"u{rng.integers(50)}", cate,
                          brand, level, tags, emb, kv, kkv])  # fmt: skip
    return path


def config_text(tmp_path: Path, data: Path, vocab: Path, extra_features: str = "") -> str:
    types = {c: "INT64" if c in ("clk", "buy") else "STRING" for c in COLUMNS}
    fields = "\n".join(
        f'    input_fields {{ input_name: "{c}" input_type: {t} }}' for c, t in types.items()
    )
    return f"""
train_input_path: "{data}"
eval_input_path: "{data}"
model_dir: "{tmp_path / "model"}"
train_config {{ num_steps: 3 log_step_count_steps: 1 }}
data_config {{
    batch_size: 64
    label_fields: "clk"
    label_fields: "buy"
{fields}
}}
feature_configs {{ id_feature {{
    feature_name: "user_id" hash_bucket_size: 100 embedding_dim: 4
}} }}
feature_configs {{ id_feature {{
    feature_name: "cate" embedding_dim: 4
    vocab_dict {{ key: "c0" value: 2 }} vocab_dict {{ key: "c1" value: 3 }}
    vocab_dict {{ key: "c2" value: 4 }} vocab_dict {{ key: "c3" value: 4 }}
}} }}
feature_configs {{ id_feature {{
    feature_name: "level" embedding_dim: 4 vocab_file: "{vocab}" default_bucketize_value: 0
}} }}
feature_configs {{ id_feature {{
    feature_name: "tags" hash_bucket_size: 50 embedding_dim: 4 separator: "|" weighted: true
}} }}
feature_configs {{ raw_feature {{ feature_name: "pic_emb" value_dim: 4 separator: "|" }} }}
feature_configs {{ lookup_feature {{
    feature_name: "cate_cnt" map: "user:kv_cnt" key: "item:cate" separator: "|"
    boundaries: [1, 3, 5] embedding_dim: 4
}} }}
feature_configs {{ lookup_feature {{
    feature_name: "cate_cnt_log" map: "user:kv_cnt" key: "item:cate" separator: "|"
    normalizer: "method=log1p"
}} }}
feature_configs {{ match_feature {{
    feature_name: "cate_brand" nested_map: "user:kkv" pkey: "item:cate" skey: "item:brand"
}} }}
feature_configs {{ match_feature {{
    feature_name: "any_cate_brand" nested_map: "user:kkv" pkey: "ALL" skey: "item:brand"
    boundaries: [0.5, 1.0] embedding_dim: 4
}} }}
{extra_features}
model_config {{
    feature_groups {{
        group_name: "all"
        feature_names: ["user_id", "cate", "level", "tags", "pic_emb", "cate_cnt",
                        "cate_cnt_log", "cate_brand", "any_cate_brand"]
        group_type: DEEP
    }}
    mmoe {{ expert_mlp {{ hidden_units: [16] }} num_expert: 2 {TOWERS} }}
}}
"""


@pytest.fixture
def setup(tmp_path):
    data = write_data(tmp_path / "data.csv")
    vocab = tmp_path / "level.txt"
    vocab.write_text("low\nmid\nhigh\n")
    path = tmp_path / "kinds.config"
    path.write_text(config_text(tmp_path, data, vocab))
    return tmp_path, data, vocab, path


def raw_rows(path: Path, n: int) -> dict[str, list]:
    with open(path) as f:
        rows = [r for _, r in zip(range(n), csv.reader(f))]
    return {c: [r[i] for r in rows] for i, c in enumerate(COLUMNS) if c not in ("clk", "buy")}


def test_feature_kinds_train_export_and_serve_raw_columns(setup):
    tmp_path, data, vocab, path = setup
    config = load_config(str(path))
    runner = Runner(config)
    runner.train()
    specs = runner.serving_specs()
    assert {"tags", "pic_emb", "kv_cnt", "kkv", "level"} <= set(specs)
    assert all(s.dtype == tf.string for s in specs.values())
    export_dir = export_saved_model(runner.model, specs, str(tmp_path / "export"))
    vocab.unlink()  # the SavedModel holds the vocabulary itself
    inputs = raw_rows(data, 6)
    inputs["kv_cnt"][1] = inputs["kkv"][1] = inputs["tags"][1] = inputs["pic_emb"][1] = ""
    served = serve_in_clean_process(export_dir, inputs)
    direct = runner.model({k: tf.constant(v) for k, v in inputs.items()}, training=False)
    np.testing.assert_allclose(served["probs_ctr"], direct["probs_ctr"], rtol=1e-5, atol=1e-6)

    # Every new kind changes the prediction when its own column changes.
    def probs(column, value):
        changed = dict(inputs, **{column: [value] + inputs[column][1:]})
        out = runner.model({k: tf.constant(v) for k, v in changed.items()}, training=False)
        return out["probs_ctr"].numpy()[0]

    base = direct["probs_ctr"].numpy()[0]
    cate = inputs["cate"][0]
    for column, value in [
        ("tags", "t1:9|t2:0.1"),
        ("pic_emb", "5|5|5|5"),
        ("kv_cnt", f"{cate}:40"),
        ("kkv", f"{cate}^{inputs['brand'][0]}:7.5"),
        ("level", "high" if inputs["level"][0] == "mid" else "mid"),
    ]:
        assert probs(column, value) != pytest.approx(base, abs=1e-9), column


# ---------------------------------------------------------------------------- bad input


def run_bad(capsys, path: Path, tmp_path: Path) -> str:
    assert train_main(["--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: "), err
    assert not (tmp_path / "model").exists()
    return err


@pytest.mark.parametrize(
    "column, cell, expected",
    [
        ("tags", "t1:0.5|t2", "column 'tags': 't1:0.5|t2' is not 'id:weight' items joined by '|'"),
        ("kv_cnt", "c1:3|c2", "column 'kv_cnt': 'c1:3|c2' is not 'key:number' items joined by '|'"),
        ("kkv", "c1^b1:x", "column 'kkv': 'c1^b1:x' is not 'pkey^skey:number,skey:number'"),
        ("pic_emb", "1|2|3", "column 'pic_emb': '1|2|3' does not hold 4 values joined by '|'"),
    ],
)
def test_malformed_cell_stops_at_its_line(setup, capsys, column, cell, expected):
    tmp_path, data, _, path = setup
    lines = data.read_text().splitlines()
    cells = next(csv.reader([lines[4]]))
    cells[COLUMNS.index(column)] = cell
    with open(data, "w", newline="") as f:
        csv.writer(f).writerows([next(csv.reader([line])) for line in lines[:4]] + [cells])
    err = run_bad(capsys, path, tmp_path)
    assert f"data.csv: line 5: {expected}" in err, err
    assert "bad_row_policy: SKIP" in err, err


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ('default_bucketize_value: 0', "", "vocab_file needs default_bucketize_value"),
        ("level.txt", "missing.txt", "missing.txt' does not exist"),
        (
            'key: "item:cate" separator: "|"\n    boundaries',
            'key: "item:nope" separator: "|"\n    boundaries',
            "lookup_feature.key: reads input field 'nope'",
        ),
        ('skey: "item:brand"', 'skey: "item:brand" show_skey: true',
         "MatchFeature.show_skey is a TorchEasyRec field that easymtl does not support"),
        ('normalizer: "method=log1p"', 'need_discrete: true',
         "need_discrete: the values found are ids only with"),
        ("boundaries: [0.5, 1.0]", "boundaries: [0.5, 1.0] hash_bucket_size: 5",
         "expected at most one of"),
        ('value_dim: 4 separator: "|"', 'value_dim: 0 separator: "|"',
         "value_dim: must be positive"),
    ],
)  # fmt: skip
def test_bad_feature_config_is_one_line(setup, capsys, old, new, expected):
    tmp_path, _, _, path = setup
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    err = run_bad(capsys, path, tmp_path)
    assert expected in err, err


def test_bad_vocab_file_line_is_named(setup, capsys):
    tmp_path, _, vocab, path = setup
    vocab.write_text("low 0\nmid\n")
    err = run_bad(capsys, path, tmp_path)
    assert "vocab_file: " in err and "level.txt: line 2: expected one value per line" in err, err
