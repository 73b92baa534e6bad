"""train_config.mixed_precision (BF16, FP16 with loss scaling) and train_config.grad_scaler."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, make_config

import easymtl.precision
from easymtl.config import load_config
from easymtl.errors import EasymtlError
from easymtl.trainer.loss_scale import LossScale


def test_loss_scale_backs_off_at_an_overflow_and_grows_after_its_interval():
    scale = LossScale(init_scale=8.0, growth_interval=2)
    # A gradient overflow (losses finite): no longer flagged, the scale halves.
    flags = scale.update(tf.constant([False, False, True]))
    assert not flags.numpy().any() and float(scale.scale.numpy()) == 4.0
    scale.update(tf.constant([False, False, False]))
    assert float(scale.scale.numpy()) == 4.0
    scale.update(tf.constant([False, False, False]))  # two good steps: it doubles
    assert float(scale.scale.numpy()) == 8.0
    # A NaN loss is no overflow: it stays flagged, the scale is kept.
    flags = scale.update(tf.constant([True, False, True]))
    np.testing.assert_array_equal(flags.numpy(), [True, False, True])
    assert float(scale.scale.numpy()) == 8.0


def test_bad_mixed_precision_is_a_config_error(tmp_path):
    path = make_config(tmp_path, extra='train_config { mixed_precision: "INT8" }')
    with pytest.raises(EasymtlError, match="mixed_precision: 'INT8' is not a precision"):
        load_config(str(path))


def _runner(tmp_path, precision: str, caplog):
    from easymtl.runner import Runner

    path = make_config(
        tmp_path,
        "mmoe",
        extra=f'train_config {{ num_steps: 3 mixed_precision: "{precision}" }} '
        "data_config { batch_size: 64 }",
        features=FEW_FEATURES,
    )
    with caplog.at_level(logging.INFO, logger="easymtl"):
        runner = Runner(load_config(str(path)))
    [line] = [r.getMessage() for r in caplog.records if "mixed_precision" in r.getMessage()]
    if easymtl.precision.precision_hardware(precision) is None:
        assert line.endswith("float32")
        assert runner.state.loss_scale is None
        pytest.skip(f"no {precision} hardware here: {line}")
    return runner, line


@pytest.mark.slow  # trains and serves in a process without easymtl
def test_bf16_computes_the_towers_in_bfloat16_and_serves(tmp_path, caplog):
    from easymtl import testing
    from easymtl.export import export_saved_model

    runner, line = _runner(tmp_path, "BF16", caplog)
    assert "bfloat16" in line
    assert runner.model.backbone.dtype_policy.name == "mixed_bfloat16"
    assert all(v.dtype == "float32" for v in runner.model.trainable_variables)
    assert runner.state.loss_scale is None  # bfloat16 has float32's range
    runner.train()
    features, _ = runner.split(next(iter(runner.build_dataset(False))))
    outputs = runner.model(features)
    assert outputs["probs_ctr"].dtype == "float32"
    export_dir = export_saved_model(
        runner.serving_model(), runner.serving_specs(), str(tmp_path / "export")
    )
    rows = {k: v.numpy()[:4].tolist() for k, v in features.items()}
    rows = {k: [x.decode() if isinstance(x, bytes) else x for x in v] for k, v in rows.items()}
    served = testing.serve_in_clean_process(export_dir, rows)
    # bfloat16 keeps 8 bits of mantissa: a batch of 4 rounds differently from one of 64.
    np.testing.assert_allclose(served["probs_ctr"], outputs["probs_ctr"].numpy()[:4], atol=5e-3)


def test_fp16_is_float32_on_a_cpu(monkeypatch):
    import easymtl.precision as precision

    # TensorFlow's CPU kernels ran float16 training 110x slower than float32, even with
    # avx512_fp16 / amx_fp16: a CPU is never FP16 hardware, whatever its flags.
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx512_fp16", "amx_fp16"})
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert precision.precision_hardware("FP16") is None
    assert precision.policy_name("FP16") is None


@pytest.mark.slow  # float16 on a CPU: TensorFlow's slow kernels (20-35 s)
def test_fp16_scales_the_loss_and_skips_an_overflowed_step(tmp_path, caplog, monkeypatch):
    import easymtl.precision as precision

    # The loss scaling on this machine's CPU as on a GPU of compute capability >= 7.0.
    monkeypatch.setattr(precision, "precision_hardware", lambda p: "GPU (pretended)")
    runner, line = _runner(tmp_path, "FP16", caplog)
    assert "float16" in line and runner.model.backbone.dtype_policy.name == "mixed_float16"
    assert float(runner.state.loss_scale.scale.numpy()) == 65536.0  # TorchEasyRec's default
    batch = next(iter(runner.build_dataset(True)))
    features, labels = runner.split(batch)
    # The gradients come back unscaled: about those of float32 (the step's own scale).
    scaled = runner.train_step.gradients(features, labels).gradients
    runner.state.loss_scale.scale.assign(1.0)
    plain = runner.train_step.gradients(features, labels).gradients
    n = len(runner.state.embedding_vars)
    norm = float(tf.linalg.global_norm(plain[n:]))
    assert norm > 0
    assert abs(float(tf.linalg.global_norm(scaled[n:])) - norm) < 0.02 * norm
    # A scale that overflows float16: the step is skipped (not a NaN step) and it halves.
    runner.state.loss_scale.scale.assign(2.0**127)
    before = [v.numpy() for v in runner.state.dense_vars]
    result = runner.compiled_step("train", runner.build_dataset(True))(batch)
    assert result.applied
    assert float(runner.state.loss_scale.scale.numpy()) == 2.0**126
    for b, v in zip(before, runner.state.dense_vars):
        np.testing.assert_array_equal(b, v.numpy())
