"""The fused ranking score: the layer's product formula, the config checks, the score in
the SavedModel (equal to the formula on the exported outputs) and its reported AUC."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAMPLES, make_config
from google.protobuf import text_format

from easymtl import testing
from easymtl.config import PipelineConfig, load_config
from easymtl.errors import EasymtlError
from easymtl.export import export_saved_model
from easymtl.layers.fusion import FusedScore
from easymtl.metrics.auc import ScoreAUC
from easymtl.runner import Runner

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane


def test_layer_is_the_product_formula():
    fused = FusedScore(
        {"probs_ctr": 1.0, "probs_cvr": 0.5, "y_watch": 2.0},
        clip_outputs=["y_watch"],
        inputs=[
            {"input_name": "len", "transform": "log1p"},
            {"input_name": "n", "transform": "power", "power": 0.5},
        ],
    )
    outputs = {
        "probs_ctr": np.array([0.5, 0.2], np.float32),
        "probs_cvr": np.array([0.25, 0.04], np.float32),
        "y_watch": np.array([3.0, -1.0], np.float32),
    }
    inputs = {"len": np.array([np.e - 1, 7], np.float32), "n": np.array([16, 4], np.int64)}
    score = np.asarray(fused(outputs, inputs))
    expected = 0.5 * 0.25**0.5 * 3.0**2 * 1.0 * 4.0
    np.testing.assert_allclose(score, [expected, 0.0], rtol=1e-6)  # y_watch < 0 counts as 0
    again = FusedScore.from_config(fused.get_config())
    assert again.get_config() == fused.get_config() and again.input_names == ["len", "n"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"factors": {}}, "must not both be empty"),
        ({"factors": {"probs_a": 1.0}, "clip_outputs": ["y_b"]}, "clip_outputs"),
        ({"factors": {}, "inputs": [{"input_name": "x", "transform": "exp"}]}, "transform"),
    ],
)
def test_layer_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FusedScore(**kwargs)


def test_score_auc_matches_exact_over_a_wide_range():
    rng = np.random.default_rng(0)
    log_score = rng.normal(-8.0, 4.0, 20000)
    labels = rng.random(20000) < 1 / (1 + np.exp(-(log_score + 6.0 + rng.normal(0, 2, 20000))))
    auc = ScoreAUC(20000)
    for lo in range(0, 20000, 5000):
        auc.update_state(labels[lo : lo + 5000], np.exp(log_score[lo : lo + 5000]))
    assert float(auc.result()) == pytest.approx(testing.exact_auc(labels, log_score), abs=1e-3)


FUSION = """
    fusion {
        towers { tower_name: "ctr" }
        towers { tower_name: "cvr" exponent: 0.5 }
        inputs { input_name: "price" transform: LOG1P }
        label_names: ["clk", "buy"]
    }
"""


def _config(tmp_path, fusion: str = FUSION) -> str:
    config = PipelineConfig()
    text_format.Parse(make_config(tmp_path, "mmoe").read_text(), config)
    group = config.model_config.feature_groups[0]
    names = [n for n in group.feature_names if n != "price"]  # only the score reads price
    group.ClearField("feature_names")
    group.feature_names.extend(names)
    text_format.Merge(fusion, config.model_config)
    text_format.Merge("train_config { num_steps: 30 } data_config { batch_size: 512 }", config)
    path = tmp_path / "fusion.config"
    path.write_text(text_format.MessageToString(config))
    return str(path)


def test_score_is_exported_as_the_product_and_its_auc_is_reported(tmp_path):
    runner = Runner(load_config(_config(tmp_path)))
    assert "price" in runner.inputs.input_names and "price" in runner.serving_specs()
    runner.train()
    result = runner.evaluate()

    scores, labels = [], {"clk": [], "buy": []}
    for batch in runner.build_dataset(training=False):
        features, batch_labels = runner.split(batch)
        scores.append(runner.model(features, training=False)["score"].numpy())
        for name in labels:
            labels[name].append(batch_labels[name].numpy())
    scores = np.concatenate(scores)
    for name, values in labels.items():
        exact = testing.exact_auc(np.concatenate(values), scores)
        assert result[f"auc_score_{name}"] == pytest.approx(exact, abs=1e-3), name
    assert result["auc_score_clk"] > 0.55, result

    export_dir = export_saved_model(runner.model, runner.serving_specs(), str(tmp_path / "export"))
    fields = [f.input_name for f in runner.config.data_config.input_fields]
    types = {f.input_name: f.input_type for f in runner.config.data_config.input_fields}
    rows = [
        line.split(",")
        for line in (SAMPLES / "data" / "taobao_mtl_eval.csv").read_text().splitlines()[:100]
    ]
    inputs = {}
    for name in runner.inputs.input_names:
        values = [row[fields.index(name)] for row in rows]
        inputs[name] = values if types[name] == 2 else [int(v) for v in values]  # 2: STRING
    served = testing.serve_in_clean_process(export_dir, inputs)
    expected = (
        served["probs_ctr"].astype(np.float64)
        * served["probs_cvr"].astype(np.float64) ** 0.5
        * np.log1p(np.asarray(inputs["price"], np.float64))
    )
    np.testing.assert_allclose(served["score"], expected, rtol=1e-5)


@pytest.mark.parametrize(
    "fusion, field",
    [
        ('fusion { towers { tower_name: "ctcvr" } }', "fusion.towers[0].tower_name"),
        ('fusion { towers { tower_name: "ctr" } label_names: "pid" }', "fusion.label_names[0]"),
        ('fusion { inputs { input_name: "pid" } }', "fusion.inputs[0].input_name"),
        ('fusion { inputs { input_name: "nope" } }', "fusion.inputs[0].input_name"),
        ('fusion { inputs { input_name: "price" power: 2 } }', "fusion.inputs[0].power"),
        ("fusion { }", "model_config.fusion"),
    ],
)
def test_bad_fusion_is_a_config_error(tmp_path, fusion, field):
    with pytest.raises(EasymtlError, match=field.replace("[", r"\[").replace("]", r"\]")):
        load_config(_config(tmp_path, fusion))
