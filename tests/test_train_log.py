"""What a training run tells: which limit stopped it, a regression label whose scale swamps
the other towers, and TensorBoard curves (train and eval under the same tags, the last
step included, no duplicate point from an --eval_only rerun, a re-score's new metrics
added, an evaluation on other data in a run of its own), read by TensorBoard's own
readers."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from conftest import FEW_FEATURES, SAMPLES, make_config
from google.protobuf import text_format

from easymtl.config import PipelineConfig
from easymtl.train import main as train_main

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

TRAIN_ROWS, BATCH = 640, 64  # 10 steps an epoch
TOWERS = """
    task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [16] }
        losses { binary_cross_entropy {} } metrics { auc {} } }
    task_towers { tower_name: "paid" label_name: "paid" mlp { hidden_units: [16] }
        losses { l2_loss {} } metrics { mean_squared_error {} } }
"""


def with_price_label(src, dst, rows: int) -> None:
    """The first `rows` rows of `src` plus `paid`: the raw price (tens to thousands)."""
    lines = src.read_text().splitlines()[:rows]
    dst.write_text("".join(f"{line},{line.split(',')[-1]}\n" for line in lines))


def train(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert train_main(argv) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train_log")
    with_price_label(SAMPLES / "data" / "taobao_mtl_train.csv", tmp / "train.csv", TRAIN_ROWS)
    with_price_label(SAMPLES / "data" / "taobao_mtl_eval.csv", tmp / "eval.csv", 256)
    config = PipelineConfig()
    text_format.Parse(
        make_config(tmp, "simple_multi_task", features=FEW_FEATURES).read_text(), config
    )
    config.model_config.simple_multi_task.ClearField("task_towers")
    text_format.Merge(TOWERS, config.model_config.simple_multi_task)
    config.train_input_path = str(tmp / "train.csv")
    config.eval_input_path = str(tmp / "eval.csv")
    text_format.Merge(
        f"""
        train_config {{ num_steps: 300 num_epochs: 1 log_step_count_steps: 4 }}
        export_config {{ export_after_train: false }}
        data_config {{ batch_size: {BATCH} label_fields: "paid"
            input_fields {{ input_name: "paid" input_type: DOUBLE }} }}
        """,
        config,
    )
    path = tmp / "paid.config"
    path.write_text(text_format.MessageToString(config))
    log = train(["--config", str(path)])
    eval_only = train(["--config", str(path), "--eval_only"])
    # A re-score of the same step with a metric added since, and with fewer batches.
    metrics = (
        '--model_config.simple_multi_task.task_towers[0].metrics=[{"auc": {}}, {"log_loss": {}}]'
    )
    rescore = train(["--config", str(path), "--eval_only", metrics])
    fewer = train(["--config", str(path), "--eval_only", "--eval_config.num_steps=1"])
    # An evaluation on other data.
    with_price_label(SAMPLES / "data" / "taobao_mtl_eval.csv", tmp / "day3.csv", 128)
    other = train(["--config", str(path), "--eval_only", f"--eval_input_path={tmp / 'day3.csv'}"])
    return {
        "log": log,
        "eval_only": eval_only,
        "rescore": rescore,
        "fewer": fewer,
        "other": other,
        "model_dir": config.model_dir,
    }


def test_log_names_the_limit_that_stopped_training(run):
    assert "INFO epoch 1 done at step 10" in run["log"]
    assert (
        "training done at step 10 in " in run["log"]
        and "s (train_config.num_epochs 1 done before train_config.num_steps 300)" in run["log"]
    ), run["log"]


def test_log_says_where_training_is_and_where_its_outputs_went(run):
    """Epoch mode: the last step from the counted rows, each step line with its share and
    time left; at the end every output's path; model_dir/train.log keeps each run."""
    log, model_dir = run["log"], run["model_dir"]
    plan = "training to step 10: 1 epoch of 10 steps (640 rows counted in 1 file, batches of 64)"
    assert plan in log, log
    assert re.search(r"INFO step 4/10 \(40%, eta \d+s\)  loss ", log), log
    assert re.search(r"INFO step 10/10 \(100%, eta 0s\)  loss ", log), log
    outputs = log[log.index("outputs:") :]
    for what, where in [
        ("checkpoint", f"{model_dir}/model.ckpt-10"),
        ("evaluation", f"{model_dir}/eval_result.json"),
        ("TensorBoard", f"tensorboard --logdir {model_dir} (runs: eval, train)"),
        ("log", f"{model_dir}/train.log"),
    ]:
        assert re.search(rf"INFO   {what} +{re.escape(where)}", outputs), outputs
    kept = (Path(model_dir) / "train.log").read_text()
    # Each run appended: the training run, then the four evaluations.
    headers = [line for line in kept.splitlines() if line.startswith("==== ")]
    assert len(headers) == 5 and "python -m easymtl.train --config" in headers[0]
    assert all("--eval_only" in h for h in headers[1:]), headers
    assert plan in kept and "training done at step 10" in kept
    assert "eval of step 10: 1 new values added to TensorBoard" in kept


def test_raw_scale_regression_label_is_warned_about(run):
    (line,) = [x for x in run["log"].splitlines() if "WARNING tower 'paid'" in x]
    assert "tower 'ctr''s" in line and "swamp the other towers'" in line
    assert "log1p" in line and "weight near" in line and "huber_loss" in line


def scalars(logdir: str) -> dict[str, list[int]]:
    """The steps of each scalar tag, read by TensorBoard's own event reader."""
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="tensorboard is not installed (pip install -e '.[dev]')",
    )
    events = accumulator.EventAccumulator(logdir, size_guidance={"tensors": 0})
    events.Reload()
    return {tag: [int(e.step) for e in events.Tensors(tag)] for tag in events.Tags()["tensors"]}


def test_tensorboard_train_and_eval_curves_overlay(run):
    train_tags = scalars(f"{run['model_dir']}/train")
    eval_tags = scalars(f"{run['model_dir']}/eval")
    for tag in ("loss", "loss/ctr", "loss/paid"):
        # Every log_step_count_steps steps, and the last step.
        assert train_tags[tag] == [4, 8, 10], (tag, train_tags)
        # The same tags in the eval run; the --eval_only rerun at step 10 added no point.
        assert eval_tags[tag] == [10], (tag, eval_tags)
    assert "loss_ctr" not in eval_tags and "auc_ctr" in eval_tags
    assert "eval of step 10 is already in TensorBoard" in run["eval_only"]


def test_tensorboard_gets_every_evaluation(run):
    """A re-score adds its new metric to the step's point and nothing twice; other data
    is a run of its own: as TensorBoard finds the runs of model_dir."""
    multiplexer = pytest.importorskip(
        "tensorboard.backend.event_processing.plugin_event_multiplexer",
        reason="tensorboard is not installed (pip install -e '.[dev]')",
    )
    events = multiplexer.EventMultiplexer(tensor_size_guidance={"tensors": 0})
    events.AddRunsFromDirectory(run["model_dir"])
    events.Reload()
    assert set(events.Runs()) == {"train", "eval", "eval_day3"}

    def steps(name: str) -> dict[str, list[int]]:
        tags = events.Runs()[name]["tensors"]
        return {tag: [int(e.step) for e in events.Tensors(name, tag)] for tag in tags}

    eval_run = steps("eval")
    assert eval_run["log_loss_ctr"] == [10]  # the re-score's new metric
    assert eval_run["auc_ctr"] == [10] and eval_run["loss"] == [10]  # no second point
    assert "1 new values added to TensorBoard" in run["rescore"], run["rescore"]
    assert "log_loss_ctr" in run["rescore"]
    # Fewer batches: other values for the same step; TensorBoard keeps the first.
    assert "differs from what TensorBoard holds" in run["fewer"], run["fewer"]
    # The other data: every metric of its evaluation, in its own run.
    day3 = steps("eval_day3")
    assert day3["auc_ctr"] == [10] and day3["loss/ctr"] == [10]
    assert "log_loss_ctr" not in day3
    from tensorboard.util.tensor_util import make_ndarray

    def loss(name: str) -> float:
        return float(make_ndarray(events.Tensors(name, "loss")[0].tensor_proto))

    assert loss("eval_day3") != loss("eval")
