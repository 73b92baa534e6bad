"""Sample spaces and sample weights through the runner: the columns are read, the eval
losses and metrics are the ones a hand computation over the model's outputs gives."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FEW_FEATURES, SAMPLES, make_config
from google.protobuf import text_format

from easymtl import testing
from easymtl.config import PipelineConfig, load_config
from easymtl.runner import Runner

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

ROWS, BATCH = 3000, 500

TOWERS = """
    task_towers { tower_name: "ctr" label_name: "clk" sample_weight_name: "w"
        losses { binary_cross_entropy {} } metrics { auc { thresholds: 1000 } } }
    task_towers { tower_name: "cvr" label_name: "buy" task_space_indicator_label: "clk"
        out_task_space_weight: 0 average_over_task_space: true metrics_over_task_space: true
        losses { binary_cross_entropy {} } metrics { auc { thresholds: 1000 } } }
"""


@pytest.fixture
def space_config(tmp_path):
    lines = (SAMPLES / "data" / "taobao_mtl_eval.csv").read_text().splitlines()[:ROWS]
    data = tmp_path / "data.csv"
    data.write_text("".join(f"{line},{1 + i % 3}.0\n" for i, line in enumerate(lines)))
    config = PipelineConfig()
    text_format.Parse(
        make_config(tmp_path, "simple_multi_task", features=FEW_FEATURES).read_text(), config
    )
    config.model_config.simple_multi_task.ClearField("task_towers")
    text_format.Merge(TOWERS, config.model_config.simple_multi_task)
    config.train_input_path = config.eval_input_path = str(data)
    text_format.Merge(
        """
        train_config { num_steps: 10 }
        data_config { eval_batch_size: 500 sample_weight_fields: "w"
            input_fields { input_name: "w" input_type: FLOAT } }
        """,
        config,
    )
    path = tmp_path / "space.config"
    path.write_text(text_format.MessageToString(config))
    return path


def bce(labels, probs):
    probs = np.clip(probs, 1e-7, 1 - 1e-7)
    return -(labels * np.log(probs) + (1 - labels) * np.log(1 - probs))


def test_eval_losses_and_metrics_follow_the_sample_space_and_weights(space_config):
    runner = Runner(load_config(str(space_config)))
    assert runner.inputs.label_names == ["clk", "w", "buy"]
    runner.train()
    result = runner.evaluate()

    ctr_losses, cvr_losses, clicked = [], [], {"labels": [], "probs": []}
    for batch in runner.build_dataset(training=False):
        features, labels = runner.split(batch)
        out = {k: v.numpy().astype(np.float64) for k, v in runner.model(features).items()}
        clk, buy = (labels[k].numpy().astype(np.float64) for k in ("clk", "buy"))
        w = labels["w"].numpy()
        ctr_losses.append(np.sum(w * bce(clk, out["probs_ctr"])) / np.sum(w))
        in_space = clk > 0
        cvr_losses.append(bce(buy, out["probs_cvr"])[in_space].sum() / in_space.sum())
        clicked["labels"].append(buy[in_space])
        clicked["probs"].append(out["probs_cvr"][in_space])
    assert len(ctr_losses) == ROWS // BATCH
    # Eval losses are batch means (equal batches here).
    assert result["loss_ctr"] == pytest.approx(np.mean(ctr_losses), rel=1e-4)
    assert result["loss_cvr"] == pytest.approx(np.mean(cvr_losses), rel=1e-4)
    exact = testing.exact_auc(np.concatenate(clicked["labels"]), np.concatenate(clicked["probs"]))
    # 1000 histogram buckets against the exact rank statistic.
    assert result["auc_cvr"] == pytest.approx(exact, abs=2e-3)
