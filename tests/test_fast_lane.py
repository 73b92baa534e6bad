"""Every registered model, in seconds: build, train a few steps, evaluate, export, and
serve the SavedModel's outputs equal to the model's, loaded both ways (tf.saved_model.load,
and a TF1 graph and session as TensorFlow Serving's C++ loader loads it), its variables
written once. The full round trip in a process without easymtl, and the learning tests, are in
test_end_to_end.py and test_export.py (marked slow)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, MODEL_BLOCKS, SAMPLES

from easymtl import testing
from easymtl.config import load_config
from easymtl.export import export_saved_model
from easymtl.models import MODELS
from easymtl.runner import Runner

ROWS = 16
STEPS = 3


def registered_models() -> list[str]:
    return sorted(MODELS)


def test_every_registered_model_has_a_small_block():
    assert set(MODEL_BLOCKS) == set(registered_models())


def raw_rows(config, names: list[str]) -> dict[str, list[str]]:
    """The first ROWS rows of the eval file: the raw cells of the columns `names`."""
    fields = [f.input_name for f in config.data_config.input_fields]
    lines = (SAMPLES / "data" / "taobao_mtl_eval.csv").read_text().splitlines()[:ROWS]
    cells = [dict(zip(fields, line.split(","), strict=True)) for line in lines]
    return {n: [row[n] for row in cells] for n in names}


FAST = (
    f"train_config {{ num_steps: {STEPS} log_step_count_steps: 1 }} "
    "data_config { batch_size: 32 eval_batch_size: 64 } eval_config { num_steps: 1 } "
    "export_config { export_after_train: false }"
)
# A WIDE group beside the deep one: ids, a bucketized and a dense number, and a cross.
WIDE = """
feature_configs { raw_feature { feature_name: "price_value" expression: "item:price"
    normalizer: "method=log1p" } }
feature_configs { combo_feature { feature_name: "user_x_cate"
    expression: ["user:user_id", "item:cate_id"] hash_bucket_size: 1000 embedding_dim: 1 } }
model_config { feature_groups { group_name: "wide" group_type: WIDE
    feature_names: ["user_id", "tag_brand_list", "price", "price_value", "user_x_cate"] } }
"""


@pytest.mark.parametrize("model", registered_models())
def test_model_trains_exports_and_serves(config_factory, tmp_path, model, monkeypatch):
    """Each model over a deep group and a WIDE one (the rankers that read a WIDE group
    named "wide" themselves, deepfm, xdeepfm, ..., have one in their blocks)."""
    own_wide = "group_type: WIDE" in MODEL_BLOCKS[model]
    path = config_factory(model, FAST if own_wide else FAST + WIDE, features=FEW_FEATURES)
    symbolic = _symbolic_builds(monkeypatch)
    runner = _train_export_and_serve(path, tmp_path)
    # Each layer builds at its first call: none is traced on symbolic inputs only to
    # build it (docs/ARCHITECTURE.md, "Adding a model", item 3).
    assert symbolic == [], symbolic
    if not own_wide:
        wide = [v for v in runner.model.variables if "wide" in v.path]
        assert len(wide) == 5, [v.path for v in wide]  # 4 wide tables, 1 linear weight
        # Trained: the rows the batches looked up moved away from zero.
        assert any(np.abs(v.numpy()).max() > 0 for v in wide)


def _symbolic_builds(monkeypatch) -> list[str]:
    """The layers that Keras calls on symbolic inputs to build them (a layer that holds
    others and has no `build` of its own), recorded from now on in the returned list."""
    from keras.src import backend

    layers = []
    compute_output_spec = backend.compute_output_spec

    def recorded(fn, *args, **kwargs):
        layers.append(type(getattr(fn, "__self__", fn)).__name__)
        return compute_output_spec(fn, *args, **kwargs)

    monkeypatch.setattr(backend, "compute_output_spec", recorded)
    return layers


def _train_export_and_serve(path, tmp_path) -> Runner:
    """Trains the config at `path` STEPS steps, evaluates, exports, and checks that the
    SavedModel serves the model's outputs; returns the runner."""
    runner = Runner(load_config(str(path)))
    assert runner.train() == STEPS
    assert [s for s, _ in runner.history] == list(range(1, STEPS + 1))
    assert all(np.isfinite(v["total"]) for _, v in runner.history), runner.history
    result = runner.evaluate()
    assert result["global_step"] == STEPS and result["num_examples"] == 64
    assert np.isfinite(result["loss"]), result

    specs = runner.serving_specs()
    export_dir = export_saved_model(runner.model, specs, str(tmp_path / "export"))
    cells = raw_rows(runner.config, list(specs))
    inputs = {
        name: tf.constant(cells[name])
        if spec.dtype == tf.string
        else tf.strings.to_number(cells[name], spec.dtype)
        for name, spec in specs.items()
    }
    served = tf.saved_model.load(export_dir).signatures["serving_default"](**inputs)
    expected = runner.model(inputs, training=False)
    assert set(served) == set(expected)
    for name, value in served.items():
        assert value.shape[0] == ROWS, name
        np.testing.assert_allclose(value.numpy(), expected[name].numpy(), rtol=1e-5, atol=1e-6)
    session = testing.serve_with_session(export_dir, {k: v.numpy() for k, v in inputs.items()})
    assert set(session) == set(served)
    for name, value in session.items():
        np.testing.assert_allclose(value, served[name].numpy(), rtol=0, atol=1e-6, err_msg=name)
    # Each variable the serving function reads is written once, not twice.
    # RocketLaunching serves its light net alone: the booster is for training only.
    serving = [v for v in runner.model.variables if "/booster_" not in v.path]
    model_bytes = sum(v.numpy().nbytes for v in serving)
    variables = os.path.join(export_dir, "variables")
    size = sum(os.path.getsize(os.path.join(variables, f)) for f in os.listdir(variables))
    assert model_bytes <= size < 1.1 * model_bytes + 100_000, (size, model_bytes)
    return runner
