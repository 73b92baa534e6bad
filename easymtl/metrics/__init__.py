"""Metrics: a registry from MetricConfig's `metric` oneof name to a metric builder.

A builder takes its sub-message, the metric's name and the tower's number of classes and
returns a Keras metric updated with ``update_state(labels, predictions)``, where the
predictions are ``probs_<tower>`` (binary: [batch]; multiclass: [batch, num_class]) or
``y_<tower>`` (regression); it is reported as ``<metric>_<tower>``. Each metric is
registered with the task types it applies to.

A metric that reads input columns besides the label (GAUC's grouping key) is registered
with a function naming them from its sub-message; the runner then reads those columns
too, and ``update_state(labels, predictions, *columns)`` gets them in that order (the
metric lists their names in its ``input_columns`` attribute).

A metric undefined on the rows seen (AUC where the labels hold one class) returns NaN and
may say why in an ``undefined_reason`` attribute; :func:`metric_result` turns it into
None (null in eval_result.json, ``n/a`` in the log) with a warning.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

log = logging.getLogger("easymtl")

METRICS: dict[str, Callable] = {}
# metric name -> the task types it applies to
METRIC_TASK_TYPES: dict[str, tuple[str, ...]] = {}
# metric name -> fn(sub-message) -> the input columns it reads besides the label
METRIC_COLUMNS: dict[str, Callable] = {}


def register_metric(
    name: str, task_types: tuple[str, ...] = ("binary",), columns: Callable | None = None
) -> Callable:
    """Registers a builder for the `name` entry of MetricConfig's `metric` oneof, a metric
    of towers of `task_types`; `columns(sub-message)` names the input columns it reads
    besides the label, if any."""

    def wrap(builder: Callable) -> Callable:
        METRICS[name] = builder
        METRIC_TASK_TYPES[name] = tuple(task_types)
        if columns is not None:
            METRIC_COLUMNS[name] = columns
        return builder

    return wrap


def metric_columns(metric_config) -> list[str]:
    """The input columns a MetricConfig message's metric reads besides the label."""
    name = metric_config.WhichOneof("metric")
    if name not in METRIC_COLUMNS:
        return []
    return list(METRIC_COLUMNS[name](getattr(metric_config, name)))


def build_metric(metric_config, tower_name: str, num_class: int = 1):
    """Returns the Keras metric of a MetricConfig message, named ``<metric>_<tower>``.

    Raises:
        ValueError: an option of the metric is out of range.
    """
    name = metric_config.WhichOneof("metric")
    return METRICS[name](getattr(metric_config, name), f"{name}_{tower_name}", num_class)


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


from easymtl.metrics import (  # noqa: E402, F401
    accuracy,
    auc,
    grouped_auc,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    multiclass_auc,
)

__all__ = [
    "METRICS",
    "METRIC_COLUMNS",
    "METRIC_TASK_TYPES",
    "build_metric",
    "metric_columns",
    "metric_result",
    "register_metric",
]
