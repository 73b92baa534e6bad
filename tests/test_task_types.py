"""Binary, regression and multiclass towers in one model, end to end on tiny data: each
tower's loss falls, its metrics are reported, and the export emits its outputs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import SAMPLES, make_config
from google.protobuf import text_format

from easymtl.config import PipelineConfig, load_config
from easymtl.export import export_saved_model
from easymtl.runner import Runner

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

TOWERS = """
    task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [16] }
        losses { binary_cross_entropy { label_smoothing: 0.01 } }
        losses { binary_focal_loss { gamma: 1 alpha: 0.5 } }
        metrics { auc {} } metrics { accuracy {} } }
    task_towers { tower_name: "dwell" label_name: "dwell" mlp { hidden_units: [16] }
        losses { l2_loss {} } losses { huber_loss { delta: 2 } }
        metrics { mean_squared_error {} } metrics { mean_absolute_error {} } }
    task_towers { tower_name: "level" label_name: "level" num_class: 3 mlp { hidden_units: [16] }
        losses { softmax_cross_entropy {} }
        metrics { accuracy {} } metrics { multiclass_auc { thresholds: 1000 } } }
"""


def derive(src: Path, dst: Path, rows: int) -> None:
    """The first `rows` rows of `src` plus two derived labels: `dwell`, a numeric target
    (a watch time: longer after a click, and for dearer items), and `level`, a class id
    (the item's price range: 0 below 60, 1 below 250, else 2; the model sees the price
    only through buckets at 50, 75, 200, 300, so not every row is separable)."""
    out = []
    for line in src.read_text().splitlines()[:rows]:
        cols = line.split(",")
        clk, price = int(cols[0]), int(cols[-1])
        level = 0 if price < 60 else 1 if price < 250 else 2
        out.append(f"{line},{math.log1p(price) + 2.0 * clk:.4f},{level}")
    dst.write_text("\n".join(out) + "\n")


@pytest.fixture
def task_types_config(tmp_path) -> Path:
    derive(SAMPLES / "data" / "taobao_mtl_train.csv", tmp_path / "train.csv", 4000)
    derive(SAMPLES / "data" / "taobao_mtl_eval.csv", tmp_path / "eval.csv", 2000)
    config = PipelineConfig()
    text_format.Parse(make_config(tmp_path, "simple_multi_task").read_text(), config)
    config.model_config.simple_multi_task.ClearField("task_towers")
    text_format.Merge(TOWERS, config.model_config.simple_multi_task)
    config.train_input_path = str(tmp_path / "train.csv")
    config.eval_input_path = str(tmp_path / "eval.csv")
    text_format.Merge(
        """
        train_config { num_epochs: 2 }
        data_config { batch_size: 128 label_fields: ["dwell", "level"]
            input_fields { input_name: "dwell" input_type: FLOAT }
            input_fields { input_name: "level" input_type: INT32 } }
        """,
        config,
    )
    path = tmp_path / "task_types.config"
    path.write_text(text_format.MessageToString(config))
    return path


def test_every_task_type_learns_and_exports(task_types_config, tmp_path):
    runner = Runner(load_config(str(task_types_config)))
    assert [(t.name, t.task_type) for t in runner.tasks] == [
        ("ctr", "binary"),
        ("dwell", "regression"),
        ("level", "multiclass"),
    ]
    runner.train()
    first, last = runner.history[0][1], runner.history[-1][1]
    for name in ("ctr", "dwell", "level"):
        assert last[name] < first[name], (name, runner.history)
    result = runner.evaluate()

    dwell = np.array([float(r.split(",")[-2]) for r in (tmp_path / "eval.csv").open()])
    # Better than predicting the mean dwell time for every row.
    assert result["mean_squared_error_dwell"] < 0.6 * dwell.var(), (result, dwell.var())
    assert 0 < result["mean_absolute_error_dwell"] <= result["mean_squared_error_dwell"] ** 0.5
    assert result["multiclass_auc_level"] > 0.8, result
    assert result["accuracy_level"] > 0.8, result
    assert 0.5 < result["auc_ctr"] <= 1 and 0.5 < result["accuracy_ctr"] <= 1, result

    export_dir = export_saved_model(runner.model, runner.serving_specs(), str(tmp_path / "export"))
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    batch = next(iter(runner.build_dataset(training=False)))
    features, _ = runner.split(batch)
    served = serve(**features)
    n = int(batch["clk"].shape[0])
    assert {k: tuple(v.shape) for k, v in served.items()} == {
        "logits_ctr": (n,),
        "probs_ctr": (n,),
        "y_dwell": (n,),
        "logits_level": (n, 3),
        "probs_level": (n, 3),
    }
    np.testing.assert_allclose(served["probs_level"].numpy().sum(axis=1), 1.0, rtol=1e-5)
    expected = runner.model(features, training=False)
    for name, value in served.items():
        np.testing.assert_allclose(value.numpy(), expected[name].numpy(), rtol=1e-5, atol=1e-6)
