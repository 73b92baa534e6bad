"""Metrics: a registry from MetricConfig's `metric` oneof name to a metric builder.

A builder takes its sub-message, the metric's name and the tower's number of classes and
returns a Keras metric updated with ``update_state(labels, predictions)``, where the
predictions are ``probs_<tower>`` (binary: [batch]; multiclass: [batch, num_class]) or
``y_<tower>`` (regression); it is reported as ``<metric>_<tower>``. Each metric is
registered with the task types it applies to and a ``check(sub-message, num_class)`` of
its options (ValueError), run at validation without TensorFlow.

A metric that reads input columns besides the label (GAUC's grouping key) is registered
with a function naming them from its sub-message; the runner then reads those columns
too, and ``update_state(labels, predictions, *columns)`` gets them in that order (the
metric lists their names in its ``input_columns`` attribute).

A metric undefined on the rows seen (AUC where the labels hold one class) returns NaN and
may say why in an ``undefined_reason`` attribute; :func:`metric_result` turns it into
None (null in eval_result.json, ``n/a`` in the log) with a warning.

Adding a metric: its file here (the Keras metric and its builder), its message in
protos/metric.proto and one ``_register`` line below.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from easymtl.registry import Registry

log = logging.getLogger("easymtl")

METRICS = Registry("metric")


def check_buckets(config, num_class: int = 1) -> None:
    if config.thresholds < 2:
        raise ValueError(f"`num_buckets` must be at least 2. Received: {config.thresholds}")


def check_auc(config, num_class: int = 1) -> None:
    check_buckets(config)
    if num_class > 2:
        raise ValueError(
            f"auc scores a binary or two-class tower (by probs1); this one has {num_class} "
            "classes: use multiclass_auc"
        )


def check_average(config, averages: tuple[str, ...]) -> None:
    if config.average not in averages:
        raise ValueError(f"`average` must be one of {averages}. Received: {config.average!r}")


def check_accuracy(config, num_class: int = 1) -> None:
    if not 0.0 <= config.threshold <= 1.0:
        raise ValueError(f"`threshold` must be in [0, 1]. Received: {config.threshold}")
    if num_class > 1 and not 1 <= config.top_k <= num_class:
        raise ValueError(f"`top_k` must be in [1, num_class]. Received: {config.top_k}")


def check_grouped_auc(config, num_class: int = 1) -> None:
    if not config.grouping_key:
        raise ValueError("`grouping_key` must name an input column. Received: ''")
    check_buckets(config)
    check_average(config, ("weighted", "macro"))


def check_multiclass_auc(config, num_class: int = 2) -> None:
    check_buckets(config)
    check_average(config, ("macro", "weighted"))


def check_metric(metric_config, num_class: int = 1) -> str:
    """Checks the options of a MetricConfig message's metric; returns the metric name.

    Raises:
        ValueError: an option of the metric is out of range.
    """
    name = metric_config.WhichOneof("metric")
    check = METRICS.entry(name).check
    if check is not None:
        check(getattr(metric_config, name), num_class)
    return name


def metric_columns(metric_config) -> list[str]:
    """The input columns a MetricConfig message's metric reads besides the label."""
    name = metric_config.WhichOneof("metric")
    columns = METRICS.entry(name).columns
    return [] if columns is None else list(columns(getattr(metric_config, name)))


def build_metric(metric_config, tower_name: str, num_class: int = 1):
    """Returns the Keras metric of a MetricConfig message, named ``<metric>_<tower>``.

    Raises:
        ValueError: an option of the metric is out of range.
    """
    name = check_metric(metric_config, num_class)
    metric_name = f"{name}_{tower_name}" if tower_name else name
    return METRICS[name](getattr(metric_config, name), metric_name, num_class)


def metric_result(metric, tower_name: str, label_name: str) -> float | None:
    """The metric's result as a float, or None where it is undefined on the rows seen
    (not finite), with a warning naming the metric, its tower and its label."""
    value = float(metric.result())
    if math.isfinite(value):
        return value
    reason = getattr(metric, "undefined_reason", "its value is not finite")
    log.warning(
        "%s is undefined (tower %s, label %s): %s; reported as null (n/a). Evaluate on "
        "more or other rows to get a value.",
        metric.name,
        tower_name,
        label_name,
        reason,
    )
    return None


def _register(
    name: str,
    module: str,
    task_types: tuple[str, ...],
    check: Callable | None = None,
    columns: Callable | None = None,
) -> None:
    builder = f"easymtl.metrics.{module}:build_{name}"
    METRICS.register(name, builder, task_types=task_types, check=check, columns=columns)


_register("auc", "auc", ("binary", "multiclass"), check_auc)
_register("multiclass_auc", "multiclass_auc", ("multiclass",), check_multiclass_auc)
_register("mean_absolute_error", "mean_absolute_error", ("regression",))
_register("mean_squared_error", "mean_squared_error", ("regression",))
_register("accuracy", "accuracy", ("binary", "multiclass"), check_accuracy)
_register(
    "grouped_auc",
    "grouped_auc",
    ("binary",),
    check_grouped_auc,
    columns=lambda config: [config.grouping_key],
)
_register("normalized_entropy", "log_loss", ("binary",))
_register("log_loss", "log_loss", ("binary",))

__all__ = ["METRICS", "build_metric", "check_metric", "metric_columns", "metric_result"]
