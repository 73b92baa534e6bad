"""Behaviour sequences end to end: the sample sequence configs train, evaluate, export and
serve raw '|'-joined columns; every multi-task model accepts a group with sequences;
TorchEasyRec's dbmtl_taobao_seq.config runs with only its input changed to CSV; bad
sequence input is one error line, exit 2, nothing written."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import MODEL_BLOCKS, RANK, ROOT, SAMPLES, TOWERS
from google.protobuf import text_format

from easymtl.config import PipelineConfig, load_config
from easymtl.errors import ConfigError
from easymtl.export import export_saved_model
from easymtl.models import build_model
from easymtl.runner import Runner
from easymtl.testing import serve_in_clean_process
from easymtl.train import main as train_main

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

SEQ_COLUMNS = ["click_50_seq__adgroup_id", "click_50_seq__cate_id", "click_50_seq__brand"]


@pytest.fixture(scope="module")
def seq_data(tmp_path_factory) -> Path:
    """600 train / 300 eval rows of the sample data with click sequences of up to 20."""
    out = tmp_path_factory.mktemp("seq_data")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "make_sample_data.py"),
            "--out_dir",
            str(out),
            "--train_rows",
            "600",
            "--eval_rows",
            "300",
            "--sequence_length",
            "20",
        ],
        check=True,
        capture_output=True,
    )
    return out


def _config(tmp_path, seq_data, name: str, extra: str = "", text: str | None = None) -> Path:
    """Sample config `name` (or its `text`) over `seq_data`, 3 steps, `extra` merged."""
    config = PipelineConfig()
    text_format.Parse(text or (SAMPLES / "configs" / name).read_text(), config)
    config.train_input_path = str(seq_data / "taobao_mtl_seq_train.csv")
    config.eval_input_path = str(seq_data / "taobao_mtl_seq_eval.csv")
    config.model_dir = str(tmp_path / "model")
    config.train_config.num_steps = 3
    config.train_config.log_step_count_steps = 1
    config.data_config.batch_size = 128
    text_format.Merge(extra, config)
    path = tmp_path / name
    path.write_text(text_format.MessageToString(config))
    return path


def _rows(path: Path, n: int, config) -> dict[str, list]:
    """The first `n` rows of a CSV as serving inputs (raw cells; ints for INT64)."""
    fields = list(config.data_config.input_fields)
    with open(path) as f:
        rows = [r for _, r in zip(range(n), csv.reader(f))]
    out = {}
    for i, field in enumerate(fields):
        if field.input_name in config.data_config.label_fields:
            continue
        values = [r[i] for r in rows]
        out[field.input_name] = [int(v) for v in values] if field.input_type == 1 else values
    return out


@pytest.mark.parametrize(
    "name",
    [
        "dbmtl_din_taobao.config",
        "mmoe_multi_window_din_taobao.config",
        "mmoe_din_seq_match_taobao.config",
    ],
)
def test_sample_sequence_config_trains_exports_and_serves_raw_columns(tmp_path, seq_data, name):
    config = load_config(str(_config(tmp_path, seq_data, name)))
    runner = Runner(config)
    runner.train()
    result = runner.evaluate()
    assert 0.0 < result["auc_ctr"] < 1.0 and result["num_examples"] == 300
    assert set(SEQ_COLUMNS) <= set(runner.serving_specs())
    export_dir = export_saved_model(runner.model, runner.serving_specs(), str(tmp_path / "export"))
    inputs = _rows(seq_data / "taobao_mtl_seq_eval.csv", 6, config)
    inputs["click_50_seq__cate_id"][1] = inputs["click_50_seq__adgroup_id"][1] = ""
    inputs["click_50_seq__brand"][1] = ""  # an empty sequence serves too
    served = serve_in_clean_process(export_dir, inputs)
    specs = runner.serving_specs()
    tensors = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()}
    direct = runner.model(tensors, training=False)
    np.testing.assert_allclose(served["probs_ctr"], direct["probs_ctr"], rtol=1e-5, atol=1e-6)


# The rankers that read a group as fields, and refuse sequence encoders in it.
RANKERS_OF_FIELDS = {"deepfm", "dlrm", "mask_net", "wukong", "xdeepfm", "wide_and_deep"}


# Blocks that name feature groups of their own (a ranker's deep and wide groups) are
# built over those groups, not over the sample's; tests/models/test_rankers.py has them.
@pytest.mark.parametrize(
    "model", [m for m in sorted(MODEL_BLOCKS) if "feature_groups" not in MODEL_BLOCKS[m]]
)
def test_every_model_accepts_a_group_with_sequences(seq_data, tmp_path, model):
    config = load_config(str(_config(tmp_path, seq_data, "mmoe_din_taobao.config")))
    config.model_config.ClearField("mmoe")
    text_format.Merge(MODEL_BLOCKS[model] % {"towers": TOWERS, "rank": RANK}, config.model_config)
    try:
        built = build_model(config.model_config, config.feature_configs)
    except ConfigError as e:
        # A ranker that reads a group as fields (FM, CIN, WuKong, ...) refuses a sequence
        # encoder's output, naming the field (docs/rankers.md).
        assert model in RANKERS_OF_FIELDS, e
        assert "sequence_encoders" in str(e) and "not fields" in str(e)
        return
    inputs = _rows(seq_data / "taobao_mtl_seq_train.csv", 4, config)
    specs = {f.input_name: f for f in config.data_config.input_fields}
    tensors = {
        k: tf.constant(v, tf.int64 if specs[k].input_type == 1 else tf.string)
        for k, v in inputs.items()
    }
    outputs = built(tensors, training=False)
    # A single-task ranker's one task is unnamed (TorchEasyRec's `probs`).
    # (RocketLaunching's are probs_light and probs_booster.)
    probs = outputs.get("probs_ctr", next(v for k, v in sorted(outputs.items()) if "probs" in k))
    assert tuple(probs.shape) == (4,)
    assert "all_din_encoder_0" in built.features.encoders


def test_a_longer_sequence_is_cut_to_its_first_sequence_length_items(tmp_path, seq_data):
    config = load_config(str(_config(tmp_path, seq_data, "dbmtl_din_taobao.config")))
    model = Runner(config).model
    inputs = _rows(seq_data / "taobao_mtl_seq_train.csv", 1, config)
    for column in SEQ_COLUMNS:
        inputs[column] = ["|".join(str(i) for i in range(80))]  # limit: 50
    cut = dict(inputs, **{c: ["|".join(str(i) for i in range(50))] for c in SEQ_COLUMNS})
    other = dict(inputs, **{c: ["|".join(str(i) for i in range(30, 80))] for c in SEQ_COLUMNS})

    def probs(values):
        specs = {f.input_name: f for f in config.data_config.input_fields}
        return model(
            {
                k: tf.constant(v, tf.int64 if specs[k].input_type == 1 else tf.string)
                for k, v in values.items()
            },
            training=False,
        )["probs_ctr"].numpy()

    np.testing.assert_allclose(probs(inputs), probs(cut), rtol=1e-6)
    assert not np.allclose(probs(inputs), probs(other))


# TorchEasyRec's examples/dbmtl_taobao_seq.config, written out field by field: its id
# features (num_buckets as there), its click_50_seq sequence and its DIN group; only the
# input paths and data_config's input part (CSV, input_fields, batch_size) are ours.
TZREC_IDS = [
    ("user_id", 1141730),
    ("cms_segid", 98),
    ("cms_group_id", 14),
    ("final_gender_code", 3),
    ("age_level", 8),
    ("pvalue_level", 5),
    ("shopping_level", 5),
    ("occupation", 3),
    ("new_user_class_level", 6),
    ("adgroup_id", 846812),
    ("cate_id", 12961),
    ("campaign_id", 423438),
    ("customer", 255877),
    ("brand", 461498),
    ("price", 101),
    ("pid", 2),
]
TZREC_GROUP = [
    "user_id",
    "cms_segid",
    "cms_group_id",
    "final_gender_code",
    "age_level",
    "pvalue_level",
    "shopping_level",
    "occupation",
    "new_user_class_level",
    "pid",
    "adgroup_id",
    "cate_id",
    "campaign_id",
    "customer",
    "brand",
    "price",
]


def _torcheasyrec_seq_config(train: Path, eval_: Path, model_dir: Path) -> str:
    sample = PipelineConfig()
    text_format.Parse((SAMPLES / "configs" / "dbmtl_din_taobao.config").read_text(), sample)
    fields = "\n".join(
        f'    input_fields {{ input_name: "{f.input_name}" input_type: '
        f"{'INT64' if f.input_type == 1 else 'INT32' if f.input_type == 0 else 'STRING'} }}"
        for f in sample.data_config.input_fields
    )
    ids = "".join(
        f'feature_configs {{\n    id_feature {{\n        feature_name: "{n}"\n'
        f"        num_buckets: {b}\n        embedding_dim: 16\n    }}\n}}\n"
        for n, b in TZREC_IDS
    )
    seq = "".join(
        f'        features {{\n            id_feature {{\n                feature_name: "{n}"\n'
        f"                num_buckets: {b}\n                embedding_dim: 16\n"
        "            }\n        }\n"
        for n, b in TZREC_IDS
        if n in ("adgroup_id", "cate_id", "brand")
    )
    group = "".join(f'        feature_names: "{n}"\n' for n in TZREC_GROUP)
    return f"""train_input_path: "{train}"
eval_input_path: "{eval_}"
model_dir: "{model_dir}"
train_config {{
    sparse_optimizer {{ adagrad_optimizer {{ lr: 0.001 }} constant_learning_rate {{ }} }}
    dense_optimizer {{ adam_optimizer {{ lr: 0.001 }} constant_learning_rate {{ }} }}
    num_epochs: 1
}}
eval_config {{
}}
data_config {{
    batch_size: 256
    dataset_type: CsvDataset
    fg_mode: FG_NONE
    label_fields: "clk"
    label_fields: "buy"
    num_workers: 8
{fields}
}}
{ids}feature_configs {{
    sequence_feature {{
        sequence_name: "click_50_seq",
        sequence_length: 100
        sequence_delim: "|"
{seq}    }}
}}
model_config {{
    feature_groups {{
        group_name: "all"
{group}        group_type: DEEP
        sequence_groups {{
            group_name: "click_50_seq"
            feature_names: "adgroup_id"
            feature_names: "cate_id"
            feature_names: "brand"
            feature_names: "click_50_seq__adgroup_id"
            feature_names: "click_50_seq__cate_id"
            feature_names: "click_50_seq__brand"
        }}
        sequence_encoders {{
            din_encoder {{
                attn_mlp {{
                    hidden_units: [32, 8]
                }}
            }}
        }}
    }}
    dbmtl {{
        bottom_mlp {{ hidden_units: [512] }}
        task_towers {{
            tower_name: "ctr"
            label_name: "clk"
            mlp {{ hidden_units: [256, 128, 64] }}
            metrics {{ auc {{}} }}
            losses {{ binary_cross_entropy {{}} }}
        }}
        task_towers {{
            tower_name: "cvr"
            label_name: "buy"
            mlp {{ hidden_units: [256, 128, 64] }}
            metrics {{ auc {{ thresholds: 10000 }} }}
            losses {{ binary_cross_entropy {{}} }}
            relation_tower_names: "ctr"
            relation_mlp {{ hidden_units: [64] }}
        }}
    }}
}}
"""


def test_torcheasyrec_dbmtl_taobao_seq_config_trains_evaluates_and_exports(
    tmp_path, seq_data, capsys
):
    path = tmp_path / "dbmtl_taobao_seq.config"
    path.write_text(
        _torcheasyrec_seq_config(
            seq_data / "taobao_mtl_seq_train.csv",
            seq_data / "taobao_mtl_seq_eval.csv",
            tmp_path / "model",
        )
    )
    assert train_main(["--config", str(path)]) == 0, capsys.readouterr().err
    assert (tmp_path / "model" / "eval_result.json").exists()
    assert list((tmp_path / "model" / "export").iterdir())


# ---------------------------------------------------------------------------- bad input


def test_misaligned_sequence_cells_stop_at_the_row(tmp_path, seq_data, capsys):
    lines = (seq_data / "taobao_mtl_seq_train.csv").read_text().splitlines()[:200]
    cells = lines[6].split(",")
    cells[-1] = cells[-1] + "|123"  # one brand more than the row's clicked ids
    lines[6] = ",".join(cells)
    data = tmp_path / "data.csv"
    data.write_text("".join(line + "\n" for line in lines))
    path = _config(tmp_path, seq_data, "dbmtl_din_taobao.config", f'train_input_path: "{data}"')
    assert train_main(["--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: "), err
    assert "data.csv: line 7: column 'click_50_seq__brand'" in err, err
    assert "another number of items than column 'click_50_seq__adgroup_id'" in err, err
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            'feature_names: "click_50_seq__brand"\n        }',
            'feature_names: "click_50_seq__shop"\n        }',
            "unknown feature 'click_50_seq__shop'",
        ),
        (
            "hidden_units: [32, 8]",
            "hidden_units: [32, 8] } } } sequence_encoders { "
            "din_encoder { input: 'nope' attn_mlp { hidden_units: [4]",
            "unknown sequence group 'nope'",
        ),
        ("sequence_length: 50", "sequence_length: 0", "sequence_length: must be positive"),
    ],
)
def test_bad_sequence_config_is_one_line_exit_2(tmp_path, seq_data, capsys, old, new, expected):
    path = _config(tmp_path, seq_data, "dbmtl_din_taobao.config")
    text = (SAMPLES / "configs" / "dbmtl_din_taobao.config").read_text()
    assert old in text
    bad = tmp_path / "bad.config"
    bad.write_text(text.replace(old, new, 1).replace("runs/dbmtl_din_taobao", str(tmp_path / "m")))
    del path
    assert train_main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"error: {bad}:"), err
    assert expected in err, err
    assert not (tmp_path / "m").exists()


def test_a_zch_table_shared_by_a_query_and_its_sequence_admits_once_a_step(tmp_path, seq_data):
    """As TorchEasyRec's multi_tower_din_zch_fg_mock.config: the candidate's adgroup_id
    and the click sequence's share one zch table (their table name, adgroup_id_emb), whose
    step counts training steps (one admission a step over both features' ids); a sequence
    of ids never admitted reads row 0; the export serves what the model computes. Only
    one of them with the zch is one error naming both."""
    text = (SAMPLES / "configs" / "mmoe_din_taobao.config").read_text()
    zch = "zch { zch_size: 400 eviction_interval: 1 lru {} }"
    shared = text.replace(
        'feature_name: "adgroup_id"\n        expression: "item:adgroup_id"\n        '
        "hash_bucket_size: 100000",
        f'feature_name: "adgroup_id"\n        expression: "item:adgroup_id"\n        {zch}',
    ).replace(
        'feature_name: "adgroup_id"\n                hash_bucket_size: 100000',
        f'feature_name: "adgroup_id"\n                {zch}',
    )
    assert shared.count(zch) == 2
    config = load_config(str(_config(tmp_path, seq_data, "shared.config", text=shared)))
    runner = Runner(config)
    runner.train()
    table = runner.model.features.tables["adgroup_id_emb"]
    assert int(table.step.numpy()) == 3  # observed once in each of the 3 steps
    held = set(table.row_keys.numpy().tolist()) - {-1}
    assert len(held) > 100  # the candidates' and the clicked ids
    export_dir = export_saved_model(runner.model, runner.serving_specs(), str(tmp_path / "export"))
    inputs = _rows(seq_data / "taobao_mtl_seq_eval.csv", 4, config)
    inputs["click_50_seq__adgroup_id"][0] = "never|seen"
    specs = runner.serving_specs()
    tensors = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()}
    served = tf.saved_model.load(export_dir).signatures["serving_default"](**tensors)
    direct = runner.model(tensors, training=False)
    np.testing.assert_allclose(served["probs_ctr"], direct["probs_ctr"], rtol=1e-5, atol=1e-6)

    one = shared.replace(
        f'feature_name: "adgroup_id"\n                {zch}',
        'feature_name: "adgroup_id"\n                hash_bucket_size: 400',
    )
    with pytest.raises(ConfigError, match="shares embedding 'adgroup_id_emb' with feature"):
        Runner(load_config(str(_config(tmp_path, seq_data, "one.config", text=one))))
