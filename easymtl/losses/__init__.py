"""Losses: a registry from LossConfig's `loss` oneof name to a loss builder.

A builder takes its sub-message and returns ``fn(labels, predictions) -> per-example
loss``, where predictions are the tower's logits (binary: [batch]; multiclass: [batch,
num_class], labels class ids) or its values ``y_<tower>`` (regression: [batch]). Each loss
is registered with the task type it serves, which sets its tower's type.
"""

from __future__ import annotations

from collections.abc import Callable

BINARY, REGRESSION, MULTICLASS = "binary", "regression", "multiclass"

LOSSES: dict[str, Callable] = {}
# loss name -> the task type it serves
LOSS_TASK_TYPES: dict[str, str] = {}


def register_loss(name: str, task_type: str) -> Callable:
    """Registers a builder for the `name` entry of LossConfig's `loss` oneof, a loss of
    `task_type` ("binary", "regression" or "multiclass") towers."""
    if task_type not in (BINARY, REGRESSION, MULTICLASS):
        raise ValueError(f"unknown task type {task_type!r}")

    def wrap(builder: Callable) -> Callable:
        LOSSES[name] = builder
        LOSS_TASK_TYPES[name] = task_type
        return builder

    return wrap


def build_loss(loss_config) -> tuple[str, Callable]:
    """Returns ``(name, fn)`` for a LossConfig message.

    Raises:
        ValueError: an option of the loss is out of range.
    """
    name = loss_config.WhichOneof("loss")
    return name, LOSSES[name](getattr(loss_config, name))


from easymtl.losses import (  # noqa: E402, F401
    binary_cross_entropy,
    binary_focal_loss,
    huber_loss,
    l2_loss,
    softmax_cross_entropy,
)

__all__ = [
    "BINARY",
    "LOSSES",
    "LOSS_TASK_TYPES",
    "MULTICLASS",
    "REGRESSION",
    "build_loss",
    "register_loss",
]
