"""TorchEasyRec's feature kinds and options that easymtl computes in the model, end to end:
overlap_feature, expr_feature, kv_dot_product, bool_mask_feature, custom_feature
(EditDistance, RegexReplace), raw_feature mlp / autodis, normalizer method=expression,
id_feature value_dim and data_type train on one small model, export, and serve from the
raw CSV columns in a process without easymtl (also as TensorFlow Serving loads it); each feature's
column moves the prediction; bad configs are one error line naming the field."""

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
from easymtl.testing import serve_both_ways_in_clean_process
from easymtl.train import main as train_main

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

COLUMNS = ["clk", "buy", "cate", "tags", "u_age", "i_age", "kv_q", "kv_d", "items", "mask",
           "query", "title", "price", "user"]  # fmt: skip


def write_data(path: Path, n: int = 192, seed: int = 0) -> Path:
    """`n` rows whose clk depends on the candidate's category being in the user's tags."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        for _ in range(n):
            tags = [f"c{t}" for t in rng.choice(6, int(rng.integers(0, 4)), replace=False)]
            cate = f"c{rng.integers(6)}"
            u_age, i_age = int(rng.integers(15, 60)), int(rng.integers(15, 60))
            kv_q = "|".join(f"k{k}:{rng.random():.2f}" for k in rng.choice(4, 2, replace=False))
            kv_d = "|".join(f"k{k}:{rng.random():.2f}" for k in rng.choice(4, 2, replace=False))
            items = ",".join(str(i) for i in rng.integers(0, 50, 3))
            mask = ",".join(rng.choice(["true", "false"], 3))
            query = "".join(rng.choice(list("abc"), 3))
            title = "".join(rng.choice(list("abc"), 4))
            clk = int(rng.random() < (0.6 if cate in tags else 0.15))
            out.writerow([clk, clk * int(rng.random() < 0.4), cate, "|".join(tags), u_age, i_age,
                          kv_q, kv_d, items, mask, query, title, int(rng.integers(1, 500)),
                          f"u{rng.integers(30)}"])  # fmt: skip
    return path


FEATURES = """
feature_configs { overlap_feature {
    feature_name: "cate_in_tags" query: "item:cate" title: "user:tags"
    method: "query_common_ratio" separator: "|"
} }
feature_configs { overlap_feature {
    feature_name: "tags_share" query: "item:cate" title: "user:tags"
    method: "title_common_ratio" separator: "|" boundaries: [0.3, 0.6] embedding_dim: 4
} }
feature_configs { expr_feature {
    feature_name: "older" variables: ["user:u_age", "item:i_age"]
    expression: "u_age >= i_age ? 1 : 0"
} }
feature_configs { expr_feature {
    feature_name: "age_gap" variables: ["user:u_age", "item:i_age"]
    expression: "abs(u_age - i_age)" embedding_dim: 4 mlp {}
} }
feature_configs { kv_dot_product {
    feature_name: "kv_sim" query: "user:kv_q" document: "item:kv_d" separator: "|"
    embedding_dim: 4 autodis { num_channels: 3 }
} }
feature_configs { bool_mask_feature {
    feature_name: "kept_items" expression: ["user:items", "user:mask"] separator: ","
    num_buckets: 50 embedding_dim: 4
} }
feature_configs { custom_feature {
    feature_name: "edit_distance" operator_name: "EditDistance"
    operator_lib_file: "pyfg/lib/libedit_distance.so" expression: ["user:query", "item:title"]
    operator_params { fields { key: "encoding" value { string_value: "utf-8" } } }
    boundaries: [1, 2, 3] embedding_dim: 4
} }
feature_configs { custom_feature {
    feature_name: "title_shape" operator_name: "RegexReplace"
    operator_lib_file: "pyfg/lib/libregex_replace.so" expression: ["item:title"]
    operator_params {
        fields { key: "regex_patten" value { string_value: "a+" } }
        fields { key: "replacement" value { string_value: "A" } }
    }
    hash_bucket_size: 20 embedding_dim: 4
} }
feature_configs { raw_feature {
    feature_name: "price" normalizer: "method=expression,expr=log(x+3)" embedding_dim: 4 mlp {}
} }
feature_configs { raw_feature {
    feature_name: "price_autodis" expression: "item:price" embedding_dim: 4
    autodis { num_channels: 4 temperature: 0.5 }
} }
feature_configs { id_feature {
    feature_name: "user" hash_bucket_size: 40 embedding_dim: 4 value_dim: 1 data_type: "FP16"
} }
"""
NAMES = ["cate_in_tags", "tags_share", "older", "age_gap", "kv_sim", "kept_items",
         "edit_distance", "title_shape", "price", "price_autodis", "user"]  # fmt: skip


def config_text(tmp_path: Path, data: Path) -> str:
    ints = ("clk", "buy", "u_age", "i_age", "price")
    fields = "\n".join(
        f'    input_fields {{ input_name: "{c}" input_type: {"INT64" if c in ints else "STRING"} }}'
        for c in COLUMNS
    )
    names = ", ".join(f'"{n}"' for n in NAMES)
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
{FEATURES}
model_config {{
    feature_groups {{ group_name: "all" feature_names: [{names}] group_type: DEEP }}
    mmoe {{ expert_mlp {{ hidden_units: [8] }} num_expert: 2 {TOWERS} }}
}}
"""


@pytest.fixture
def setup(tmp_path):
    data = write_data(tmp_path / "data.csv")
    path = tmp_path / "kinds.config"
    path.write_text(config_text(tmp_path, data))
    return tmp_path, data, path


def raw_rows(path: Path, n: int) -> dict[str, list]:
    with open(path) as f:
        rows = [r for _, r in zip(range(n), csv.reader(f))]
    ints = ("u_age", "i_age", "price")
    return {
        c: [int(r[i]) if c in ints else r[i] for r in rows]
        for i, c in enumerate(COLUMNS)
        if c not in ("clk", "buy")
    }


def test_kinds_train_export_and_serve_raw_columns(setup):
    tmp_path, data, path = setup
    runner = Runner(load_config(str(path)))
    dense = runner.model.features.dense_embeddings
    assert sorted(dense) == ["age_gap", "kv_sim", "price", "price_autodis"]
    before = [w.numpy().copy() for layer in dense.values() for w in layer.weights]
    runner.train()
    # The dense optimizer trains the mlp / autodis weights.
    after = [w.numpy() for layer in dense.values() for w in layer.weights]
    assert all(not np.array_equal(a, b) for a, b in zip(after, before, strict=True))
    export_dir = export_saved_model(runner.model, runner.serving_specs(), str(tmp_path / "export"))
    inputs = raw_rows(data, 5)
    inputs["tags"][1] = inputs["kv_q"][1] = inputs["items"][1] = inputs["query"][1] = ""
    # Loaded as tf.saved_model.load and as TensorFlow Serving's loader (a graph and a
    # session) load it, in a process that never imports easymtl.
    served = serve_both_ways_in_clean_process({"kinds": export_dir}, inputs)["kinds"]

    def direct(columns):
        feed = {k: tf.constant(v, tf.int64 if isinstance(v[0], int) else tf.string)
                for k, v in columns.items()}  # fmt: skip
        return runner.model(feed, training=False)["probs_ctr"].numpy()

    base = direct(inputs)
    for way in ("saved_model", "session"):
        np.testing.assert_allclose(served[way]["probs_ctr"], base, rtol=1e-5, atol=1e-6)
    # Each kind's column moves the first row's prediction.
    for column, value in [
        ("tags", inputs["cate"][0] + "|c9"), ("u_age", 99), ("kv_q", "k0:9|k1:9|k2:9|k3:9"),
        ("items", "1,2,3"), ("mask", "true,true,true"), ("query", "zzzzzz"),
        ("title", "bbbbbbbb"), ("price", 100000), ("user", "u7|u8"),
    ]:  # fmt: skip
        changed = dict(inputs, **{column: [value] + inputs[column][1:]})
        assert direct(changed)[0] != pytest.approx(base[0], abs=1e-9), column


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ('method: "query_common_ratio"', 'method: "proximity_min_dist"',
         "overlap_feature.method: 'proximity_min_dist' is a TorchEasyRec method that easymtl"),
        ('expression: "u_age >= i_age ? 1 : 0"', 'expression: "u_age >= age ? 1 : 0"',
         "expr_feature.expression: reads 'age', not in variables"),
        ('expression: "u_age >= i_age ? 1 : 0"', 'expression: "rnd() > 0.5"',
         "expr_feature.expression: rnd() draws anew on every call"),
        ('operator_name: "EditDistance"', 'operator_name: "SeqExpr"',
         "custom_feature.operator_name: 'SeqExpr' (pyfg/lib/libedit_distance.so) is a compiled"),
        ("expr=log(x+3)", "expr=log(y)", "raw_feature.normalizer: normalizer expression 'log(y)'"),
        ("autodis { num_channels: 3 }", "boundaries: [1] autodis { num_channels: 3 }",
         "kv_dot_product.autodis: embeds a dense value; with boundaries"),
        ('value_dim: 1 data_type: "FP16"', "value_dim: 2", "id_feature.value_dim: 2: expected 0"),
        ('expression: ["user:items", "user:mask"]', 'expression: ["user:items"]',
         "bool_mask_feature.expression: expected 2 inputs"),
    ],
)  # fmt: skip
def test_bad_kind_config_is_one_line(setup, capsys, old, new, expected):
    tmp_path, _, path = setup
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    assert train_main(["--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and expected in err, err
    assert f"{path.name}:" in err, err
    assert not (tmp_path / "model").exists()
