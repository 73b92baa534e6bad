"""The Registry class: registration, duplicates, unknown names, lazy builders."""

import pytest

from easymtl.errors import EasymtlError
from easymtl.registry import Registry


def test_register_decorator_and_facts():
    reg = Registry("loss")

    @reg.register("l2", task_type="regression")
    def build(config):
        return ("l2", config)

    assert reg["l2"] is build
    assert reg["l2"](3) == ("l2", 3)
    assert reg.entry("l2").task_type == "regression"
    assert reg.entry("l2").check is None  # a fact not given
    assert "l2" in reg and "l1" not in reg
    assert list(reg) == reg.names() == ["l2"]
    assert len(reg) == 1


def test_duplicate_name_fails_loudly():
    reg = Registry("model")
    reg.register("mmoe", lambda c, n: None)
    with pytest.raises(ValueError, match="model 'mmoe' is registered twice"):
        reg.register("mmoe", lambda c, n: None)
    with pytest.raises(ValueError, match="registered twice"):

        @reg.register("mmoe")
        def again(c, n):
            return None


def test_unknown_name_lists_the_choices():
    reg = Registry("metric")
    reg.register("auc", lambda *a: None)
    reg.register("log_loss", lambda *a: None)
    with pytest.raises(EasymtlError) as e:
        reg["gauc"]
    assert str(e.value) == "unknown metric 'gauc'; expected one of auc, log_loss"
    with pytest.raises(KeyError):  # still a KeyError for dict-like callers
        reg.entry("gauc")


def test_lazy_builder_is_imported_on_first_use():
    reg = Registry("reader")
    reg.register("json", "json:dumps", suffix=".json")
    entry = reg.entry("json")
    assert entry.suffix == ".json"
    import json

    assert reg["json"] is json.dumps
    with pytest.raises(ModuleNotFoundError):
        r = Registry("x")
        r.register("y", "easymtl.no_such_module:f")
        r["y"]


def oneof_names(message, oneof: str) -> set[str]:
    return {f.name for f in message.DESCRIPTOR.oneofs_by_name[oneof].fields}


def test_each_registry_names_its_proto_oneof_exactly():
    from easymtl.data import READERS
    from easymtl.features import ENCODERS, FEATURES
    from easymtl.losses import LOSSES
    from easymtl.metrics import METRICS
    from easymtl.models import MODELS
    from easymtl.models.blocks import BLOCKS
    from easymtl.protos import (
        block_pb2,
        data_pb2,
        feature_pb2,
        loss_pb2,
        loss_weighting_pb2,
        metric_pb2,
        model_pb2,
        seq_encoder_pb2,
    )
    from easymtl.weighting import WEIGHTINGS

    assert set(MODELS) == oneof_names(model_pb2.ModelConfig, "model")
    assert set(LOSSES) == oneof_names(loss_pb2.LossConfig, "loss")
    assert set(METRICS) == oneof_names(metric_pb2.MetricConfig, "metric")
    assert set(WEIGHTINGS) == oneof_names(loss_weighting_pb2.LossWeighting, "strategy")
    assert set(FEATURES) == oneof_names(feature_pb2.FeatureConfig, "feature")
    assert set(ENCODERS) == oneof_names(seq_encoder_pb2.SeqEncoderConfig, "seq_module")
    assert set(BLOCKS) == oneof_names(block_pb2.Block, "block")
    # Readers key on DatasetType; MaxCompute tables (OdpsDataset) have none, on purpose.
    assert set(READERS) == set(data_pb2.DatasetType.keys()) - {"OdpsDataset"}


def test_every_lazy_builder_imports():
    from easymtl.data import READERS
    from easymtl.features import ENCODERS, FEATURES
    from easymtl.losses import LOSSES
    from easymtl.metrics import METRICS
    from easymtl.models import MODELS
    from easymtl.weighting import WEIGHTINGS

    for registry in (MODELS, LOSSES, METRICS, WEIGHTINGS, FEATURES, ENCODERS, READERS):
        for name in registry:
            assert callable(registry[name]), (registry.kind, name)


def test_activation_names_are_keras_activations():
    import keras
    from keras.src.activations import ALL_OBJECTS_DICT

    from easymtl.activations import KERAS_ACTIVATIONS

    assert set(ALL_OBJECTS_DICT) == KERAS_ACTIVATIONS
    for name in KERAS_ACTIVATIONS:
        keras.activations.get(name)
