"""Exports load and serve the same in every loader: tf.saved_model.load, a TF1 graph and
session (TensorFlow Serving's C++ loader works this way), and `saved_model_cli run`; every
model both ways in-process in test_fast_lane.py, a PLE over every feature here in a
process without easymtl."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import SAMPLES, make_config

from easymtl import testing
from easymtl.config import load_config
from easymtl.export import export_saved_model
from easymtl.runner import Runner

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

ROWS = 64


def raw_rows(config, n: int) -> dict[str, list]:
    """The first `n` rows of the eval file, by field name, typed as the config says."""
    from easymtl.protos import data_pb2

    fields = config.data_config.input_fields
    lines = (SAMPLES / "data" / "taobao_mtl_eval.csv").read_text().splitlines()[:n]
    cols = {f.input_name: [] for f in fields}
    for line in lines:
        for f, value in zip(fields, line.split(","), strict=True):
            cols[f.input_name].append(value if f.input_type == data_pb2.STRING else int(value))
    return cols


@pytest.fixture(scope="module")
def sample_config(tmp_path_factory):
    return load_config(str(make_config(tmp_path_factory.mktemp("config"))))


@pytest.fixture(scope="module")
def ple_export(tmp_path_factory, sample_config):
    """(export dir, its outputs loaded both ways in a process without easymtl) of a PLE over every
    sample feature (saved_model_cli feeds it every column), trained two steps. Every
    model is loaded both ways, in-process, by test_fast_lane.py."""
    tmp = tmp_path_factory.mktemp("ple")
    path = make_config(
        tmp,
        "ple",
        "train_config { num_steps: 2 } data_config { batch_size: 64 } "
        "export_config { export_after_train: false }",
    )
    runner = Runner(load_config(str(path)))
    runner.train()
    export_dir = export_saved_model(runner.model, runner.serving_specs(), str(tmp / "export"))
    served = testing.serve_both_ways_in_clean_process(
        {"ple": export_dir}, raw_rows(sample_config, ROWS)
    )
    return export_dir, served["ple"]


def test_a_process_without_easymtl_serves_the_same_both_ways(ple_export):
    export_dir, served = ple_export
    loaded, session = served["saved_model"], served["session"]
    assert set(session) == set(loaded) == {"logits_ctr", "probs_ctr", "logits_cvr", "probs_cvr"}
    for name, value in loaded.items():
        assert value.shape == (ROWS,)
        np.testing.assert_allclose(session[name], value, rtol=0, atol=1e-6, err_msg=name)
    # Readable by a server running as another user, as any new directory is.
    made = os.path.join(os.path.dirname(export_dir), "made")
    os.makedirs(made, exist_ok=True)
    assert os.stat(export_dir).st_mode == os.stat(made).st_mode


def test_saved_model_cli_run(ple_export, sample_config):
    """The real `saved_model_cli run`, as a TensorFlow Serving user tries an export."""
    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable))
    assert cli, "saved_model_cli (installed with tensorflow) not found beside python"
    export_dir, served = ple_export
    rows = raw_rows(sample_config, 2)
    exprs = ";".join(
        f"{name}=[{','.join(repr(v.encode()) if isinstance(v, str) else str(v) for v in values)}]"
        for name, values in rows.items()
        if name not in ("clk", "buy")
    )
    run = subprocess.run(
        [cli, "run", "--dir", export_dir, "--tag_set", "serve"]
        + ["--signature_def", "serving_default", "--input_exprs", exprs],
        capture_output=True,
        text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    printed = dict(re.findall(r"Result for output key (\w+):\s*\n\[([^\]]*)\]", run.stdout))
    expected = served["saved_model"]
    assert set(printed) == set(expected), run.stdout
    for name, text in printed.items():
        values = np.array(text.split(), dtype=np.float64)
        np.testing.assert_allclose(values, expected[name][:2], rtol=1e-5, atol=1e-6)


WIDE_GROUP = """
feature_configs { raw_feature { feature_name: "price_value" expression: "item:price"
    normalizer: "method=log1p" } }
feature_configs { combo_feature { feature_name: "user_x_cate"
    expression: ["user:user_id", "item:cate_id"] hash_bucket_size: 1000 embedding_dim: 1 } }
model_config { feature_groups { group_name: "wide" group_type: WIDE
    feature_names: ["user_id", "tag_brand_list", "price", "price_value", "user_x_cate"] } }
"""


@pytest.mark.parametrize("model", ["mmoe", "esmm", "wide_only"])
def test_wide_group_is_served_by_a_process_without_easymtl(tmp_path, sample_config, model):
    """A model with a WIDE group (and a wide-only logistic regression) trained, exported,
    and served by a process without easymtl: the served outputs are the model's, and
    they move with the wide weights."""
    extra = "train_config { num_steps: 5 } data_config { batch_size: 64 } "
    extra += "export_config { export_after_train: false }" + WIDE_GROUP
    path = make_config(tmp_path, "simple_multi_task" if model == "wide_only" else model, extra)
    config = load_config(str(path))
    if model == "wide_only":  # the logistic regression: the WIDE group and bias only
        groups = [g for g in config.model_config.feature_groups if g.group_name == "wide"]
        del config.model_config.feature_groups[:]
        config.model_config.feature_groups.extend(groups)
        for tower in config.model_config.simple_multi_task.task_towers:
            tower.ClearField("mlp")
    runner = Runner(config)
    runner.train()
    export_dir = export_saved_model(runner.model, runner.serving_specs(), str(tmp_path / "export"))
    specs = runner.serving_specs()
    rows = {k: v for k, v in raw_rows(sample_config, ROWS).items() if k in specs}
    served = testing.serve_in_clean_process(export_dir, rows)
    inputs = {k: tf.constant(rows[k], dtype=spec.dtype) for k, spec in specs.items()}
    expected = runner.model(inputs, training=False)
    assert set(served) == set(expected)
    for name, value in served.items():
        np.testing.assert_allclose(value, expected[name].numpy(), rtol=1e-5, atol=1e-6)
    wide = runner.model.features(inputs)["wide"].numpy()
    assert np.abs(wide).max() > 0, "the wide weights did not train"
    if model == "wide_only":
        assert sorted(runner.model.features.tables) == [
            "brand_wide",
            "price_emb_wide",
            "user_id_emb_wide",
            "user_x_cate_emb_wide",
        ]
        bias = [t.head.bias.numpy()[0] for t in runner.model.towers.values()]
        np.testing.assert_allclose(served["logits_ctr"], wide[:, 0] + bias[0], rtol=1e-5)
        np.testing.assert_allclose(served["logits_cvr"], wide[:, 1] + bias[1], rtol=1e-5)
