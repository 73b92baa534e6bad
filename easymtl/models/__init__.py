"""Models: a registry from model_config's `model` oneof name to a backbone builder.

A model file here is the config side of one model, and loads no TensorFlow: its
registration names

- the backbone builder ``build(sub-message, num_tasks) -> layer or None``, which imports
  its Keras layer (easymtl/layers/<model>.py) when called;
- ``check(sub-message, field path)``: the model's own config checks (ConfigError), run
  at validation before TensorFlow loads;
- optionally ``tasks(sub-message, field path) -> list[Task]`` where its tasks are not
  one :class:`~easymtl.tasks.Task` per tower, ``model(**kwargs)`` where its Keras model
  is not :class:`~easymtl.models.model.MultiTaskModel` (ESMM's derived outputs), and
  ``heads_only`` where the backbone runs each tower's `mlp` itself (DBMTL, AITM). Code
  that needs TensorFlow (a tasks builder, a model subclass) lives in a module of its own
  (``models/<model>_model.py``) named as ``lazy("module:attribute")``, which imports
  the config side, never the reverse.

Adding a model: see docs/ARCHITECTURE.md, "Adding a model".
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.overrides import is_repeated
from easymtl.registry import Registry
from easymtl.towers import TOWER_MESSAGES, check_tower, tower_fields, tower_task_type

MODELS = Registry("model")


def mlp_kwargs(mlp) -> dict:
    """Keyword arguments of :class:`easymtl.layers.MLP` from an ``MLP`` message."""
    return {
        "hidden_units": list(mlp.hidden_units),
        "activation": mlp.activation,
        "dropout_ratio": list(mlp.dropout_ratio),
        "use_bn": mlp.use_bn,
        "use_ln": mlp.use_ln,
        "use_bias": mlp.bias,
        "final_activation": mlp.final_activation or None,
    }


def task_towers(model_config) -> list:
    """The task tower messages of the model in `model_config`, in field order (see
    :func:`tower_fields`)."""
    kind = model_config.WhichOneof("model")
    return [t for _, t in tower_fields(getattr(model_config, kind), kind)]


def check_model(model_config) -> dict[str, str]:
    """The checks of building the model's tasks, without building them: the model's own
    ``check``, then every tower's losses, metrics and sample space. Returns each tower's
    task type by tower name.

    Raises:
        ConfigError: naming the first bad field.
    """
    kind = model_config.WhichOneof("model")
    where = f"model_config.{kind}"
    msg = getattr(model_config, kind)
    check = MODELS.entry(kind).check
    if check is not None:
        check(msg, where)
    check_group_towers(model_config, msg, where)
    return {tower.tower_name: check_tower(tower, path) for path, tower in tower_fields(msg, where)}


def check_group_towers(model_config, msg, where: str) -> None:
    """The Tower fields of a model's sub-message (MLPs on one feature group each): each
    reads a DEEP feature group once, and together they read every one (a group no tower
    reads would never be trained).

    Raises:
        ConfigError: naming the first bad Tower field.
    """
    fields = [f for f in msg.DESCRIPTOR.fields if f.message_type and f.message_type.name == "Tower"]
    deep = [g.group_name for g in model_config.feature_groups if g.group_type != 1]  # not WIDE
    for field in fields:
        towers = getattr(msg, field.name) if is_repeated(field) else [getattr(msg, field.name)]
        if not towers:
            continue
        read: list[str] = []
        for i, tower in enumerate(towers):
            path = f"{where}.{field.name}[{i}].input"
            if tower.input not in deep:
                raise ConfigError(
                    path, f"{tower.input!r} is not a DEEP feature group ({', '.join(deep)})"
                )
            if tower.input in read:
                raise ConfigError(path, f"feature group {tower.input!r} is read twice")
            read.append(tower.input)
        unread = [g for g in deep if g not in read]
        if unread:
            raise ConfigError(
                f"{where}.{field.name}",
                f"feature group {unread[0]!r} is read by none of them; add it or remove it",
            )


def metric_names(metrics, tower_name: str) -> list[str]:
    """How the metrics (MetricConfig messages) of a tower are reported:
    ``<metric>_<tower_name>``, in order."""
    return [f"{m.WhichOneof('metric')}_{tower_name}" for m in metrics]


def result_names(model_config) -> list[str]:
    """The eval_result.json keys of the model's towers, in the order evaluation reports
    them: each tower's metrics (``<metric>_<tower>``, with a model's derived outputs'
    after them, as ESMM's ``auc_ctcvr``) and loss (``loss_<tower>``). Imports no
    TensorFlow: it reads the config only (a registration's ``result_names`` where its
    tasks report more than their towers' metrics)."""
    kind = model_config.WhichOneof("model")
    msg = getattr(model_config, kind)
    extra = MODELS.entry(kind).result_names
    derived = extra(msg) if extra is not None else {}
    names = []
    for _, tower in tower_fields(msg, kind):
        names += metric_names(tower.metrics, tower.tower_name)
        names += derived.get(tower.tower_name, [])
        names.append(f"loss_{tower.tower_name}")
    return names


def build_model(model_config, feature_configs, mixed_precision: str = ""):
    """Builds the Keras model (a :class:`~easymtl.models.model.MultiTaskModel`) from
    `model_config` and `feature_configs`; the backbone and towers in bfloat16 or float16
    with `mixed_precision` "BF16" or "FP16" where the hardware has it
    (:mod:`easymtl.precision`)."""
    from easymtl.features import build_feature_inputs
    from easymtl.fusion import build_fused_score
    from easymtl.layers.tower import TaskTower
    from easymtl.models.model import MultiTaskModel
    from easymtl.precision import dtype_policy, policy_name

    kind = model_config.WhichOneof("model")
    entry = MODELS.entry(kind)
    towers = task_towers(model_config)
    task_types = {t.tower_name: tower_task_type(t) for t in towers}
    with dtype_policy(policy_name(mixed_precision)):
        backbone = entry.builder(getattr(model_config, kind), len(towers))
        task_layers = {
            t.tower_name: TaskTower(
                mlp=mlp_kwargs(t.mlp) if t.HasField("mlp") and not entry.heads_only else None,
                num_class=t.num_class,
                task_type=task_types[t.tower_name],
                name=f"tower_{t.tower_name}",
            )
            for t in towers
        }
    # The WIDE groups' weights: one column per output of each tower (see features/wide.py).
    wide_dim = sum(t.num_class for t in towers)
    return (entry.model or MultiTaskModel)(
        features=build_feature_inputs(
            feature_configs,
            model_config.feature_groups,
            wide_dim,
            model_config.embedding_regularization,
            (
                model_config.variational_dropout
                if model_config.HasField("variational_dropout")
                else None
            ),
        ),
        backbone=backbone,
        towers=task_layers,
        fusion=(
            build_fused_score(model_config.fusion, task_types)
            if model_config.HasField("fusion")
            else None
        ),
        l2_regularization=model_config.l2_regularization,
        name=kind,
    )


def build_model_tasks(model_config, feature_configs=()) -> list:
    """The tasks (:class:`~easymtl.tasks.Task`: losses, metrics) of the model in
    `model_config`, one per tower; `feature_configs` give the input columns of the
    features a loss reads (jrc_loss's session).

    Raises:
        ConfigError: a tower's losses, metrics or num_class do not fit together, or the
            model's own check fails.
    """
    from easymtl.tasks import build_tasks

    kind = model_config.WhichOneof("model")
    entry = MODELS.entry(kind)
    where = f"model_config.{kind}"
    if entry.check is not None:
        entry.check(getattr(model_config, kind), where)
    if entry.tasks is not None:
        return entry.tasks(getattr(model_config, kind), where)
    from easymtl.features import feature_columns

    columns = feature_columns(feature_configs)
    return build_tasks(task_towers(model_config), f"{where}.task_towers", columns)


# The registrations (imported for their side effect, after the registry exists).
from easymtl.models import (  # noqa: E402, F401
    aitm,
    cgc,
    dbmtl,
    esmm,
    mmoe,
    pepnet,
    ple,
    shared_bottom,
    simple_multi_task,
)

__all__ = [
    "MODELS",
    "TOWER_MESSAGES",
    "build_model",
    "build_model_tasks",
    "metric_names",
    "result_names",
    "check_model",
    "mlp_kwargs",
    "task_towers",
    "tower_fields",
]
