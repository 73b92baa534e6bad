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

A single-task ranker (deepfm, dcn_v2, ...) is registered with ``rank=True``: its one task
comes from model_config's own losses, metrics and num_class, its builder reads the
feature groups by name, and its Keras model is a
:class:`~easymtl.models.rank_model.RankModel` (see :mod:`easymtl.models.rank`).

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


def model_towers(model_config) -> list[tuple[str, object]]:
    """(field path, tower message) of each task of the model in `model_config`: its
    towers (see :func:`tower_fields`), or a ranker's implicit one (at path
    "model_config", see :mod:`easymtl.models.rank`)."""
    from easymtl.models.rank import RANK_PATH, implicit_tower

    kind = model_config.WhichOneof("model")
    entry = MODELS.entry(kind)
    if entry.rank:
        return [(RANK_PATH, implicit_tower(model_config, entry.tower_name or ""))]
    return tower_fields(getattr(model_config, kind), f"model_config.{kind}")


def model_feature_groups(model_config) -> list:
    """The feature groups as the model builds them: model_config's, or as its
    registration's ``feature_groups`` fact rewrites them (multi_tower_din gives each DIN
    tower's SEQUENCE group its din_encoder)."""
    groups = list(model_config.feature_groups)
    kind = model_config.WhichOneof("model")
    if kind is None or kind not in MODELS or MODELS.entry(kind).feature_groups is None:
        return groups
    return MODELS.entry(kind).feature_groups(getattr(model_config, kind), groups)


def task_towers(model_config) -> list:
    """The task tower messages of the model in `model_config`, in field order (see
    :func:`model_towers`)."""
    return [t for _, t in model_towers(model_config)]


def check_model(model_config, feature_configs=None) -> dict[str, str]:
    """The checks of building the model's tasks, without building them: the model's own
    ``check``, then every tower's losses, metrics and sample space; with
    `feature_configs`, a ranker's checks of the feature groups it reads. Returns each
    tower's task type by tower name.

    Raises:
        ConfigError: naming the first bad field.
    """
    from easymtl.models.rank import check_rank_fields, group_infos

    kind = model_config.WhichOneof("model")
    where = f"model_config.{kind}"
    msg = getattr(model_config, kind)
    entry = MODELS.entry(kind)
    check_rank_fields(model_config)
    if entry.check is not None:
        entry.check(msg, where)
    if entry.inputs is not None and feature_configs is not None:
        entry.inputs(msg, where, group_infos(model_config, feature_configs))
    if not entry.rank:
        check_group_towers(model_config, msg, where)
        if feature_configs is not None:
            from easymtl.models.blocks import check_blocks_inputs

            check_blocks_inputs(model_config, feature_configs)
    return {
        tower.tower_name: check_tower(tower, path) for path, tower in model_towers(model_config)
    }


def check_group_towers(model_config, msg, where: str) -> None:
    """The Tower fields of a model's sub-message (MLPs on one feature group each): each
    reads a DEEP feature group once, and together they read every one (a group no tower
    reads would never be trained); each has its MLP. (A ranker's Tower fields,
    multi_tower's, are checked by its registration.)

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
            if not tower.HasField("mlp"):
                raise ConfigError(f"{where}.{field.name}[{i}].mlp", "required: the group's MLP")
            read.append(tower.input)
        unread = [g for g in deep if g not in read]
        if unread:
            raise ConfigError(
                f"{where}.{field.name}",
                f"feature group {unread[0]!r} is read by none of them; add it or remove it",
            )


def metric_names(metrics, tower_name: str) -> list[str]:
    """How the metrics (MetricConfig messages) of a tower are reported:
    ``<metric>_<tower_name>`` (a single-task ranker's task, named "": ``<metric>``), in
    order."""
    return [suffixed(m.WhichOneof("metric"), tower_name) for m in metrics]


def suffixed(name: str, tower_name: str) -> str:
    """``<name>_<tower_name>``, or `name` alone for a ranker's task (named ""): how
    outputs, metrics and losses are named (as layers.tower.output_name, without Keras)."""
    return f"{name}_{tower_name}" if tower_name else name


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
    for _, tower in model_towers(model_config):
        names += metric_names(tower.metrics, tower.tower_name)
        names += derived.get(tower.tower_name, [])
        names.append(suffixed("loss", tower.tower_name))
    return list(dict.fromkeys(names))


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
    if entry.rank:
        from easymtl.models.rank_model import build_rank_model

        return build_rank_model(model_config, feature_configs, policy_name(mixed_precision))
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
    from easymtl.models.rank import check_rank_fields
    from easymtl.tasks import build_tasks

    kind = model_config.WhichOneof("model")
    entry = MODELS.entry(kind)
    where = f"model_config.{kind}"
    check_rank_fields(model_config)
    if entry.check is not None:
        entry.check(getattr(model_config, kind), where)
    from easymtl.features import feature_columns

    columns = feature_columns(feature_configs)
    if entry.rank:
        from easymtl.tasks import build_task

        ((path, tower),) = model_towers(model_config)
        if entry.tasks is not None:
            return entry.tasks(getattr(model_config, kind), tower, path)
        return [build_task(tower, path, columns)]
    if entry.tasks is not None:
        return entry.tasks(getattr(model_config, kind), where)
    return build_tasks(task_towers(model_config), f"{where}.task_towers", columns)


# The registrations (imported for their side effect, after the registry exists).
from easymtl.models import (  # noqa: E402, F401
    aitm,
    cgc,
    dbmtl,
    dc2vr,
    dcn_v1,
    dcn_v2,
    deepfm,
    dlrm,
    esmm,
    mask_net,
    mmoe,
    multi_tower,
    multi_tower_din,
    pepnet,
    ple,
    rocket_launching,
    shared_bottom,
    simple_multi_task,
    wide_and_deep,
    wukong,
    xdeepfm,
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
    "model_feature_groups",
    "model_towers",
    "task_towers",
    "tower_fields",
]
