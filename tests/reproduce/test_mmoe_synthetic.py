"""scripts/reproduce/mmoe_synthetic.py: the MMoE paper's synthetic data generator and the
configs of its three models."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import ROOT


def load_script():
    path = ROOT / "scripts" / "reproduce" / "mmoe_synthetic.py"
    spec = importlib.util.spec_from_file_location("mmoe_synthetic", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


synthetic = load_script()


@pytest.mark.parametrize("p", [1.0, 0.9, 0.5, 0.0, -0.3])
def test_linear_parts_correlate_as_p(p):
    rng = np.random.default_rng(7)
    params = synthetic.task_parameters(p, rng, d=100, c=1.0, m=10)
    w1, w2, alpha, beta = params
    assert np.linalg.norm(w1) == pytest.approx(1.0) and np.linalg.norm(w2) == pytest.approx(1.0)
    assert w1 @ w2 == pytest.approx(p)
    assert alpha.shape == beta.shape == (10,)
    x, y, linear = synthetic.sample(params, 50_000, rng, noise=0.1)
    assert x.shape == (50_000, 100) and y.shape == linear.shape == (50_000, 2)
    # Var(w1ᵀx) = Var(w2ᵀx) = c², Cov = c² p: the empirical correlation is p up to
    # sampling error (about (1 - p²) / sqrt(n) < 0.005).
    assert np.corrcoef(linear.T)[0, 1] == pytest.approx(p, abs=0.01)
    np.testing.assert_allclose(linear, np.stack([x @ w1, x @ w2], axis=1))


def test_labels_are_the_linear_part_plus_shared_sines_plus_noise():
    rng = np.random.default_rng(3)
    params = synthetic.task_parameters(0.5, rng)
    _, _, alpha, beta = params
    _, y, linear = synthetic.sample(params, 20_000, rng, noise=0.1)
    waves = np.sin(linear[:, :, None] * alpha + beta).sum(axis=2)
    residual = y - linear - waves
    assert residual.std() == pytest.approx(0.1, rel=0.05)
    assert abs(residual.mean()) < 0.01


def test_the_three_models_are_valid_configs(tmp_path):
    args = synthetic.parse_args(["--num_steps", "10"])
    for model in synthetic.MODELS:
        config = synthetic.pipeline_config(args, model, str(tmp_path), str(tmp_path / model), 0)
        kind = config.model_config.WhichOneof("model")
        assert kind == ("shared_bottom" if model == "shared_bottom" else "mmoe")
        if kind == "mmoe":
            assert config.model_config.mmoe.share_gate == (model == "omoe")
        assert len(config.model_config.feature_groups[0].feature_names) == 100
