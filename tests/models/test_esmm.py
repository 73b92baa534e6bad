"""ESMM: pCTCVR = pCTR x pCVR, the CVR tower learned over all impressions and scored on
clicked ones; it learns the sample data, and its export emits the product exactly."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, SAMPLES
from google.protobuf import text_format

from easymtl import testing
from easymtl.config import load_config
from easymtl.errors import ConfigError
from easymtl.export import export_saved_model
from easymtl.layers.esmm import ctcvr_logits
from easymtl.models.esmm import check_esmm
from easymtl.models.esmm_model import build_esmm_tasks
from easymtl.protos import multi_task_rank_pb2
from easymtl.runner import Runner

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane


def test_ctcvr_logits_are_the_logit_of_the_product_even_when_saturated():
    a, b = np.meshgrid([-40.0, -5.0, 0.0, 0.7, 5.0, 40.0], [-40.0, -2.0, 0.0, 3.0, 40.0])
    a, b = tf.constant(a.ravel(), tf.float64), tf.constant(b.ravel(), tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        logits = ctcvr_logits(a, b)
    p = tf.sigmoid(a) * tf.sigmoid(b)
    expected = tf.math.log(p) - tf.math.log1p(-p)
    finite = tf.math.is_finite(expected)  # log1p(-p) underflows where p rounds to 1
    np.testing.assert_allclose(logits[finite], expected[finite], rtol=1e-9, atol=1e-9)
    assert np.all(np.isfinite(logits)) and np.all(np.isfinite(tape.gradient(logits, [a, b])))
    # Both towers sure: pCTCVR near 1, its logit about 40 - log 2.
    assert float(logits[-1]) == pytest.approx(40 - np.log(2), abs=1e-6)


def esmm(text: str):
    return text_format.Parse(text, multi_task_rank_pb2.ESMM())


TOWERS = """
    ctr_tower { tower_name: "ctr" label_name: "clk" losses { binary_cross_entropy {} } }
    cvr_tower { tower_name: "cvr" label_name: "buy" losses { binary_cross_entropy {} }
        metrics { auc {} } metrics { accuracy {} } }
"""


def test_tasks_ctr_and_cvr_learned_through_ctcvr():
    ctr, cvr = build_esmm_tasks(esmm(TOWERS), "esmm")
    assert (ctr.name, cvr.name) == ("ctr", "cvr")
    assert cvr.columns == ["buy", "clk"]
    assert [m.name for m in cvr.make_metrics()] == [
        "auc_cvr",
        "accuracy_cvr",
        "auc_ctcvr",
        "accuracy_ctcvr",
    ]
    labels = {"clk": tf.constant([1, 1, 0, 0]), "buy": tf.constant([1, 0, 0, 1])}
    logits = tf.constant([0.5, -1.0, 2.0, -3.0])
    loss = cvr.loss(labels, {"logits_ctcvr": logits})
    # Label click x buy = [1, 0, 0, 0] (a buy without a click is no conversion), every row.
    expected = tf.nn.sigmoid_cross_entropy_with_logits(tf.constant([1.0, 0, 0, 0]), logits)
    assert float(loss) == pytest.approx(float(tf.reduce_mean(expected)))

    metrics = cvr.make_metrics()
    outputs = {
        "probs_cvr": tf.constant([0.9, 0.2, 0.99, 0.01]),  # rows 2, 3: not clicked
        "probs_ctcvr": tf.constant([0.8, 0.1, 0.7, 0.2]),
    }
    cvr.update_metrics(metrics, labels, outputs)
    auc_cvr, accuracy_cvr, auc_ctcvr, accuracy_ctcvr = (float(m.result()) for m in metrics)
    assert (auc_cvr, accuracy_cvr) == (1.0, 1.0)  # the clicked rows only
    assert auc_ctcvr == pytest.approx(1.0) and accuracy_ctcvr == pytest.approx(0.75)


@pytest.mark.parametrize(
    "cvr_tower, field",
    [
        ('tower_name: "cvr" label_name: "buy" losses { l2_loss {} }', "esmm.cvr_tower.losses"),
        (
            'tower_name: "ctcvr" label_name: "buy" losses { binary_cross_entropy {} }',
            "esmm.cvr_tower.tower_name",
        ),
        (
            'tower_name: "cvr" label_name: "buy" losses { binary_cross_entropy {} } '
            'task_space_indicator_label: "clk"',
            "esmm.cvr_tower.task_space_indicator_label",
        ),
    ],
)
def test_bad_towers_are_config_errors(cvr_tower, field):
    text = f"""ctr_tower {{ tower_name: "ctr" label_name: "clk"
        losses {{ binary_cross_entropy {{}} }} }} cvr_tower {{ {cvr_tower} }}"""
    with pytest.raises(ConfigError) as e:
        check_esmm(esmm(text), "esmm")
    assert e.value.field == field


def test_esmm_learns_sample_data(config_factory):
    """Measured (seed 42, 2 cores): auc_ctr 0.663, auc_ctcvr 0.701, auc_cvr 0.583 (oracle
    on this eval file: 0.778, 0.804, 0.660); its CVR AUC counts clicked rows only."""
    path = config_factory("esmm", "train_config { num_epochs: 1 } data_config { batch_size: 512 }")
    runner = Runner(load_config(str(path)))
    runner.train()
    result = runner.evaluate()
    first, last = runner.history[0][1]["total"], runner.history[-1][1]["total"]
    assert last < first * 0.9, runner.history
    assert result["auc_ctr"] >= 0.62, result
    assert result["auc_ctcvr"] >= 0.65, result
    assert result["auc_cvr"] >= 0.55, result

    probs = {"cvr": [], "ctcvr": []}
    labels = {"cvr": [], "ctcvr": []}
    for batch in runner.build_dataset(training=False):
        features, batch_labels = runner.split(batch)
        outputs = runner.model(features, training=False)
        clicked = batch_labels["clk"].numpy() > 0
        buy = batch_labels["buy"].numpy()
        probs["cvr"].append(outputs["probs_cvr"].numpy()[clicked])
        labels["cvr"].append(buy[clicked])
        probs["ctcvr"].append(outputs["probs_ctcvr"].numpy())
        labels["ctcvr"].append(buy * clicked)
    for name in ("cvr", "ctcvr"):
        exact = testing.exact_auc(np.concatenate(labels[name]), np.concatenate(probs[name]))
        assert result[f"auc_{name}"] == pytest.approx(exact, abs=1e-3), name
    assert sum(len(x) for x in labels["cvr"]) < sum(len(x) for x in labels["ctcvr"]) / 5


def test_export_emits_probs_ctcvr_as_the_product(config_factory):
    path = config_factory("esmm", features=FEW_FEATURES)
    runner = Runner(load_config(str(path)))
    export_dir = export_saved_model(
        runner.model, runner.serving_specs(), str(path.parent / "export")
    )
    names = [f.input_name for f in runner.config.data_config.input_fields]
    types = {f.input_name: f.input_type for f in runner.config.data_config.input_fields}
    rows = [
        line.split(",")
        for line in (SAMPLES / "data" / "taobao_mtl_eval.csv").read_text().splitlines()[:200]
    ]
    inputs = {}
    for name in runner.inputs.input_names:
        values = [row[names.index(name)] for row in rows]
        inputs[name] = values if types[name] == 2 else [int(v) for v in values]  # 2: STRING
    served = testing.serve_in_clean_process(export_dir, inputs)
    assert set(served) == {
        f"{kind}_{tower}" for kind in ("logits", "probs") for tower in ("ctr", "cvr", "ctcvr")
    }
    product = served["probs_ctr"].astype(np.float32) * served["probs_cvr"].astype(np.float32)
    np.testing.assert_array_equal(served["probs_ctcvr"].astype(np.float32), product)
    np.testing.assert_allclose(
        tf.sigmoid(served["logits_ctcvr"]).numpy(), served["probs_ctcvr"], rtol=1e-5
    )
