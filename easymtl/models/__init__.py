"""Models: a registry from model_config's `model` oneof name to a backbone builder.

A model is :class:`MultiTaskModel` (features → backbone → one tower per task) unless its
registration names a subclass that adds derived outputs (ESMM's ``probs_ctcvr``), and its
tasks are one :class:`~easymtl.tasks.Task` per tower unless it names a tasks builder.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from easymtl.features import build_feature_inputs
from easymtl.fusion import build_fused_score
from easymtl.layers.tower import TaskTower
from easymtl.models.model import MultiTaskModel
from easymtl.overrides import is_repeated
from easymtl.tasks import Task, build_tasks, tower_task_type

# oneof name -> builder(sub-message, num_tasks) -> backbone layer or None
MODELS: dict[str, Callable[..., keras.layers.Layer | None]] = {}
# oneof name -> the Keras model class, where it is not MultiTaskModel
MODEL_CLASSES: dict[str, type[MultiTaskModel]] = {}
# oneof name -> builder(sub-message, field path) -> tasks, where not one Task per tower
TASK_BUILDERS: dict[str, Callable[..., list[Task]]] = {}
# oneof names of the models whose backbone runs the towers' mlps itself (DBMTL, AITM)
HEADS_ONLY: set[str] = set()
# The names of the messages that are task towers.
TOWER_MESSAGES = ("TaskTower", "BayesTaskTower")


def register_model(
    name: str,
    model_class: type[MultiTaskModel] | None = None,
    tasks: Callable[..., list[Task]] | None = None,
    heads_only: bool = False,
) -> Callable:
    """Registers a backbone builder for the `name` entry of ModelConfig's `model` oneof,
    with the model's class and tasks builder where they are not the defaults. With
    `heads_only`, the backbone runs each tower's `mlp` itself (it wires the towers
    together, as DBMTL's relations do), and the TaskTowers are only output heads."""

    def wrap(builder: Callable) -> Callable:
        MODELS[name] = builder
        if model_class is not None:
            MODEL_CLASSES[name] = model_class
        if tasks is not None:
            TASK_BUILDERS[name] = tasks
        if heads_only:
            HEADS_ONLY.add(name)
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
    """The task tower messages (TaskTower, or DBMTL's BayesTaskTower) of the model in
    `model_config`, in field order: its `task_towers`, or its single TaskTower fields
    (ESMM's `ctr_tower`, `cvr_tower`)."""
    msg = getattr(model_config, model_config.WhichOneof("model"))
    towers = []
    for field in msg.DESCRIPTOR.fields:
        if field.message_type is not None and field.message_type.name in TOWER_MESSAGES:
            value = getattr(msg, field.name)
            towers += list(value) if is_repeated(field) else [value]
    return towers


def build_model(model_config, feature_configs) -> MultiTaskModel:
    """Builds the Keras model from `model_config` and `feature_configs`."""
    kind = model_config.WhichOneof("model")
    towers = task_towers(model_config)
    backbone = MODELS[kind](getattr(model_config, kind), len(towers))
    task_types = {t.tower_name: tower_task_type(t) for t in towers}
    return MODEL_CLASSES.get(kind, MultiTaskModel)(
        features=build_feature_inputs(feature_configs, model_config.feature_groups),
        backbone=backbone,
        towers={
            t.tower_name: TaskTower(
                mlp=mlp_kwargs(t.mlp) if t.HasField("mlp") and kind not in HEADS_ONLY else None,
                num_class=t.num_class,
                task_type=task_types[t.tower_name],
                name=f"tower_{t.tower_name}",
            )
            for t in towers
        },
        fusion=(
            build_fused_score(model_config.fusion, task_types)
            if model_config.HasField("fusion")
            else None
        ),
        name=kind,
    )


def build_model_tasks(model_config) -> list[Task]:
    """The tasks (losses, metrics) of the model in `model_config`, one per tower.

    Raises:
        ConfigError: a tower's losses, metrics or num_class do not fit together.
    """
    kind = model_config.WhichOneof("model")
    if kind in TASK_BUILDERS:
        return TASK_BUILDERS[kind](getattr(model_config, kind), f"model_config.{kind}")
    return build_tasks(task_towers(model_config), f"model_config.{kind}.task_towers")


# The registrations (imported for their side effect, after the registry exists).
from easymtl.models import (  # noqa: E402, F401
    aitm,
    cgc,
    dbmtl,
    esmm,
    mmoe,
    ple,
    shared_bottom,
    simple_multi_task,
)

__all__ = [
    "MODELS",
    "HEADS_ONLY",
    "MODEL_CLASSES",
    "TASK_BUILDERS",
    "TOWER_MESSAGES",
    "MultiTaskModel",
    "build_model",
    "build_model_tasks",
    "mlp_kwargs",
    "register_model",
    "task_towers",
]
