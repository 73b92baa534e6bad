"""Metrics: a registry from MetricConfig's `metric` oneof name to a metric builder.

A builder takes its sub-message and returns a Keras metric updated with
``update_state(labels, probs)``; it is reported as ``<metric>_<tower>``.
"""

from __future__ import annotations

from collections.abc import Callable

METRICS: dict[str, Callable] = {}


def register_metric(name: str) -> Callable:
    """Registers a builder for the `name` entry of MetricConfig's `metric` oneof."""

    def wrap(builder: Callable) -> Callable:
        METRICS[name] = builder
        return builder

    return wrap


def build_metric(metric_config, tower_name: str):
    """Returns the Keras metric of a MetricConfig message, named ``<metric>_<tower>``."""
    name = metric_config.WhichOneof("metric")
    return METRICS[name](getattr(metric_config, name), f"{name}_{tower_name}")


from easymtl.metrics import auc  # noqa: E402, F401

__all__ = ["METRICS", "build_metric", "register_metric"]
