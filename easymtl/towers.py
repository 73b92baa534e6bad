"""The config side of a task tower: its task type and the checks of its losses, metrics
and sample space. Pure protobuf (no TensorFlow), so that validation runs before
TensorFlow loads; :mod:`easymtl.tasks` builds the Task from the same message."""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.losses import LOSSES, MULTICLASS, check_loss
from easymtl.metrics import METRICS, check_metric, metric_columns
from easymtl.overrides import is_repeated

# The names of the messages that are task towers.
TOWER_MESSAGES = ("TaskTower", "BayesTaskTower", "InterventionTaskTower")


def output_name(prefix: str, tower: str) -> str:
    """``<prefix>_<tower>``, or `prefix` alone for a single-task ranker's task (named
    ""), as TorchEasyRec names its outputs and metrics."""
    return f"{prefix}_{tower}" if tower else prefix


def tower_fields(msg, where: str) -> list[tuple[str, object]]:
    """(field path, tower message) of each task tower (TaskTower, BayesTaskTower) of a
    model's sub-message `msg` at `where`: its `task_towers`, or its single TaskTower
    fields (ESMM's `ctr_tower`, `cvr_tower`), in field order."""
    towers = []
    for field in msg.DESCRIPTOR.fields:
        if field.message_type is None or field.message_type.name not in TOWER_MESSAGES:
            continue
        if is_repeated(field):
            value = getattr(msg, field.name)
            towers += [(f"{where}.{field.name}[{i}]", t) for i, t in enumerate(value)]
        else:
            towers.append((f"{where}.{field.name}", getattr(msg, field.name)))
    return towers


def tower_task_type(tower, where: str = "task_tower") -> str:
    """The task type of a TaskTower message, from its losses and num_class.

    Raises:
        ConfigError: no loss, losses of different types, or a num_class that does not
            fit them; `where` is the tower's field path.
    """
    kinds = []
    for i, loss in enumerate(tower.losses):
        name = loss.WhichOneof("loss")
        if name is None:
            raise ConfigError(
                f"{where}.losses[{i}]", "expected a loss, e.g. binary_cross_entropy {}"
            )
        kinds.append((i, name, LOSSES.entry(name).task_type))
    if not kinds:
        raise ConfigError(f"{where}.losses", "at least one loss is needed")
    first, first_name, task_type = kinds[0]
    for i, name, kind in kinds[1:]:
        if kind != task_type:
            raise ConfigError(
                f"{where}.losses[{i}].{name}",
                f"is a {kind} loss, but losses[{first}].{first_name} is a {task_type} loss; "
                "the losses of one tower must be of one task type",
            )
    if (task_type == MULTICLASS) != (tower.num_class > 1):
        expected = "more than 1" if task_type == MULTICLASS else "1"
        raise ConfigError(
            f"{where}.num_class",
            f"must be {expected} for the {task_type} loss {first_name}; got {tower.num_class}",
        )
    for _, name, _ in kinds:
        need = LOSSES.entry(name).num_class
        if need is not None and tower.num_class != need:
            raise ConfigError(
                f"{where}.num_class", f"must be {need} for the loss {name}; got {tower.num_class}"
            )
    return task_type


def check_losses(tower, where: str = "task_tower") -> None:
    """Raises ConfigError on a bad option of a loss of a TaskTower message."""
    for i, loss in enumerate(tower.losses):
        try:
            check_loss(loss)
        except ValueError as e:
            raise ConfigError(f"{where}.losses[{i}].{loss.WhichOneof('loss')}", str(e)) from None


def check_metrics(metrics, task_type: str, num_class: int, where: str) -> None:
    """Raises ConfigError on a metric (MetricConfig messages) that does not apply to a
    `task_type` tower or has a bad option; `where` is the path of the `metrics` field."""
    for j, mc in enumerate(metrics):
        name = mc.WhichOneof("metric")
        if name is None:
            raise ConfigError(f"{where}[{j}]", "expected a metric, e.g. auc {}")
        if task_type not in METRICS.entry(name).task_types and not two_class_metric(
            name, task_type, num_class
        ):
            fitting = [e.name for e in METRICS.entries() if task_type in e.task_types]
            raise ConfigError(
                f"{where}[{j}].{name}",
                f"does not apply to a {task_type} tower; expected one of {', '.join(fitting)}",
            )
        try:
            check_metric(mc, num_class)
        except ValueError as e:
            raise ConfigError(f"{where}[{j}].{name}", str(e)) from None


def two_class_metric(name: str, task_type: str, num_class: int) -> bool:
    """Whether metric `name` is a binary metric read, as TorchEasyRec reads it, on the
    class-1 probability of a two-class tower (num_class 2: auc, grouped_auc)."""
    binary = "binary" in METRICS.entry(name).task_types
    return task_type == MULTICLASS and num_class == 2 and binary and name != "accuracy"


def check_task_space(tower, where: str = "task_tower") -> None:
    """Raises ConfigError unless the sample-space fields of a TaskTower fit together."""
    for name in ("in_task_space_weight", "out_task_space_weight"):
        value = getattr(tower, name)
        if not 0.0 <= value < float("inf"):
            raise ConfigError(f"{where}.{name}", f"must be a finite number >= 0, got {value}")
        if tower.HasField(name) and not tower.task_space_indicator_label:
            raise ConfigError(f"{where}.{name}", "needs task_space_indicator_label")
    for name in ("average_over_task_space", "metrics_over_task_space"):
        if getattr(tower, name) and not tower.task_space_indicator_label:
            raise ConfigError(f"{where}.{name}", "needs task_space_indicator_label")


def check_tower(tower, where: str = "task_tower") -> str:
    """Every check :func:`easymtl.tasks.build_task` makes, without building; returns the
    tower's task type.

    Raises:
        ConfigError: a bad loss, metric, num_class or sample space, naming the field
            under `where`.
    """
    task_type = tower_task_type(tower, where)
    check_task_space(tower, where)
    check_losses(tower, where)
    check_metrics(tower.metrics, task_type, tower.num_class, f"{where}.metrics")
    if "train_metrics" in tower.DESCRIPTOR.fields_by_name:
        where_train = f"{where}.train_metrics"
        check_train_metrics(tower.train_metrics, task_type, tower.num_class, where_train)
    return task_type


def tower_metric_columns(tower) -> list[str]:
    """The input fields the metrics of a TaskTower message read besides the label."""
    return list(
        dict.fromkeys(
            c for mc in tower.metrics if mc.WhichOneof("metric") for c in metric_columns(mc)
        )
    )


def train_metric_config(train_metric):
    """The MetricConfig of a TrainMetricConfig's metric (the same sub-message)."""
    from easymtl.protos import metric_pb2

    name = train_metric.WhichOneof("metric")
    config = metric_pb2.MetricConfig()
    getattr(config, name).CopyFrom(getattr(train_metric, name))
    return config


def check_train_metrics(train_metrics, task_type: str, num_class: int, where: str) -> None:
    """Raises ConfigError on a TrainMetricConfig (at `where`, the repeated field's path)
    without a metric, with a metric that does not apply to the tower, or with a bad
    decay."""
    for j, tm in enumerate(train_metrics):
        if tm.WhichOneof("metric") is None:
            raise ConfigError(f"{where}[{j}]", "expected a metric, e.g. auc {}")
        check_metrics([train_metric_config(tm)], task_type, num_class, where)
        if not 0.0 <= tm.decay_rate <= 1.0:
            raise ConfigError(
                f"{where}[{j}].decay_rate", f"must be in [0, 1], got {tm.decay_rate:g}"
            )
        if tm.decay_step == 0:
            raise ConfigError(f"{where}[{j}].decay_step", "must be positive")
