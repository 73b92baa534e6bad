"""NaN/Inf losses never reach a checkpoint; gradient clipping bounds the dense update."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, SAMPLES
from google.protobuf import text_format

from easymtl.config import load_config
from easymtl.errors import EasymtlError
from easymtl.protos import data_pb2
from easymtl.runner import Runner
from easymtl.train import main as train_main

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

BAD_ROW = 150  # in the 5th batch of 32 rows


@pytest.fixture
def overflow_config(config_factory, tmp_path):
    """A config with a regression tower 'value' on the price column; row BAD_ROW's price
    is 3e38, finite, so it passes the data checks, but its squared error overflows, so
    step 5's loss of tower 'value' is infinite."""
    lines = (SAMPLES / "data" / "taobao_mtl_train.csv").read_text().splitlines()[:320]
    cells = lines[BAD_ROW].split(",")
    cells[-1] = "3e38"
    lines[BAD_ROW] = ",".join(cells)
    data = tmp_path / "train.csv"
    data.write_text("\n".join(lines) + "\n")

    def make(extra: str = ""):
        path = config_factory(
            "mmoe",
            f'train_input_path: "{data}" eval_input_path: "{data}" '
            "data_config { batch_size: 32 shuffle: false } "
            "train_config { num_epochs: 1 save_checkpoints_steps: 2 } "
            'data_config { label_fields: "price" } '
            'model_config { mmoe { task_towers { tower_name: "value" label_name: "price" '
            "losses { l2_loss {} } } } } "
            "export_config { export_after_train: false } " + extra,
            features=FEW_FEATURES,
        )
        config = load_config(str(path))
        price = next(f for f in config.data_config.input_fields if f.input_name == "price")
        price.input_type = data_pb2.FLOAT
        path.write_text(text_format.MessageToString(config))
        return path

    return make


def checkpoint_is_finite(model_dir) -> int:
    reader = tf.train.load_checkpoint(str(model_dir))
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert np.isfinite(value).all(), name
    return int(tf.train.latest_checkpoint(str(model_dir)).rsplit("-", 1)[1])


def test_non_finite_loss_stops_naming_step_tower_and_checkpoint(overflow_config, capsys):
    path = overflow_config()
    assert train_main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "step 5: loss of tower 'value' is NaN or Inf" in err, err
    assert "last good checkpoint" in err and "model.ckpt-4" in err, err
    assert checkpoint_is_finite(path.parent / "model") == 4


def test_skip_batch_policy_skips_and_counts(overflow_config, capsys):
    path = overflow_config("train_config { nan_loss_policy: SKIP_BATCH }")
    assert train_main(["--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "step 5:" in out and "batch skipped" in out, out
    assert "1 batches skipped" in out, out
    assert checkpoint_is_finite(path.parent / "model") == 10


def test_non_finite_error_names_the_towers(config_factory):
    runner = Runner(load_config(str(config_factory("mmoe", features=FEW_FEATURES))))
    with pytest.raises(EasymtlError, match=r"step 7: loss of tower 'cvr' is NaN or Inf.*ckpt-6"):
        runner.train_step.check_finite(np.array([False, True, False]), 7, "model_dir/model.ckpt-6")
    with pytest.raises(EasymtlError, match=r"step 7: gradient is NaN.*no checkpoint saved"):
        runner.train_step.check_finite(np.array([False, False, True]), 7, None)


@pytest.mark.parametrize("kind", ["norm", "value"])
def test_grad_clipping_bounds_dense_gradients(config_factory, kind):
    path = config_factory(
        "mmoe",
        f'train_config {{ grad_clipping {{ clipping_type: "{kind}" max_gradient: 0.01 }} }}',
        features=FEW_FEATURES,
    )
    runner = Runner(load_config(str(path)))
    grads = [tf.fill(v.shape, 1.0) for v in runner.state.dense_vars]
    clipped = runner.train_step.clip(grads)
    if kind == "norm":
        assert float(tf.linalg.global_norm(clipped)) == pytest.approx(0.01, rel=1e-4)
    else:
        assert max(float(tf.reduce_max(g)) for g in clipped) == pytest.approx(0.01)
