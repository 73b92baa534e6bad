"""Models: a registry from model_config's `model` oneof name to a backbone builder."""

from __future__ import annotations

from collections.abc import Callable

import keras

from easymtl.features import build_feature_inputs
from easymtl.layers.tower import TaskTower
from easymtl.models.model import MultiTaskModel
from easymtl.tasks import Task, build_tasks, tower_task_type

# oneof name -> builder(sub-message, num_tasks) -> backbone layer or None
MODELS: dict[str, Callable[..., keras.layers.Layer | None]] = {}


def register_model(name: str) -> Callable:
    """Registers a backbone builder for the `name` entry of ModelConfig's `model` oneof."""

    def wrap(builder: Callable) -> Callable:
        MODELS[name] = builder
        return builder

    return wrap


def mlp_kwargs(mlp) -> dict:
    """Keyword arguments of :class:`easymtl.layers.MLP` from an ``MLP`` message."""
    return {
        "hidden_units": list(mlp.hidden_units),
        "activation": mlp.activation,
        "dropout_ratio": list(mlp.dropout_ratio),
        "use_bn": mlp.use_bn,
        "use_ln": mlp.use_ln,
        "use_bias": mlp.bias,
    }


def task_towers(model_config) -> list:
    """The TaskTower messages of the model in `model_config`."""
    return list(getattr(model_config, model_config.WhichOneof("model")).task_towers)


def build_model(model_config, feature_configs) -> MultiTaskModel:
    """Builds the Keras model from `model_config` and `feature_configs`."""
    kind = model_config.WhichOneof("model")
    towers = task_towers(model_config)
    backbone = MODELS[kind](getattr(model_config, kind), len(towers))
    return MultiTaskModel(
        features=build_feature_inputs(feature_configs, model_config.feature_groups),
        backbone=backbone,
        towers={
            t.tower_name: TaskTower(
                mlp=mlp_kwargs(t.mlp) if t.HasField("mlp") else None,
                num_class=t.num_class,
                task_type=tower_task_type(t),
                name=f"tower_{t.tower_name}",
            )
            for t in towers
        },
        name=kind,
    )


def build_model_tasks(model_config) -> list[Task]:
    """The tasks (losses, metrics) of the model in `model_config`, one per tower.

    Raises:
        ConfigError: a tower's losses, metrics or num_class do not fit together.
    """
    kind = model_config.WhichOneof("model")
    return build_tasks(task_towers(model_config), f"model_config.{kind}.task_towers")


# The registrations (imported for their side effect, after the registry exists).
from easymtl.models import mmoe, ple, shared_bottom, simple_multi_task  # noqa: E402, F401

__all__ = [
    "MODELS",
    "MultiTaskModel",
    "build_model",
    "build_model_tasks",
    "mlp_kwargs",
    "register_model",
    "task_towers",
]
