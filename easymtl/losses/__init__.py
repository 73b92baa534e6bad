"""Losses: a registry from LossConfig's `loss` oneof name to a loss builder.

A builder takes its sub-message and returns ``fn(labels, predictions) -> per-example
loss``, where predictions are the tower's logits (binary: [batch]; multiclass: [batch,
num_class], labels class ids) or its values ``y_<tower>`` (regression: [batch]). Each loss
is registered with the task type it serves, which sets its tower's type, and with a
``check(sub-message)`` of its options (ValueError), run at validation without TensorFlow.
A loss that reads features besides the label (jrc_loss's session) is registered with
``columns(sub-message) -> feature names``; its fn then takes their input columns after
the predictions, in that order, and ``num_class``, the number of classes it needs.

Adding a loss: its file here (the function and its builder), its message in
protos/loss.proto and one ``_register`` line below.
"""

from __future__ import annotations

from collections.abc import Callable

from easymtl.registry import Registry

BINARY, REGRESSION, MULTICLASS = "binary", "regression", "multiclass"

LOSSES = Registry("loss")


def check_label_smoothing(config) -> None:
    if not 0.0 <= config.label_smoothing < 1.0:
        raise ValueError(f"`label_smoothing` must be in [0, 1). Received: {config.label_smoothing}")


def check_focal(config) -> None:
    if config.gamma < 0:
        raise ValueError(f"`gamma` must not be negative. Received: {config.gamma}")
    if not 0.0 < config.alpha < 1.0:
        raise ValueError(f"`alpha` must be in (0, 1). Received: {config.alpha}")


def check_jrc(config) -> None:
    if not config.session_name:
        raise ValueError("`session_name` must name the session feature. Received: ''")
    if not 0.0 <= config.alpha <= 1.0:
        raise ValueError(f"`alpha` must be in [0, 1]. Received: {config.alpha}")


def loss_columns(loss_config) -> list[str]:
    """The features a LossConfig message's loss reads besides the label (their names)."""
    name = loss_config.WhichOneof("loss")
    columns = LOSSES.entry(name).columns
    return [] if columns is None else list(columns(getattr(loss_config, name)))


def check_delta(config) -> None:
    if not config.delta > 0:
        raise ValueError(f"`delta` must be positive. Received: {config.delta}")


def check_loss(loss_config) -> str:
    """Checks the options of a LossConfig message's loss; returns the loss name.

    Raises:
        ValueError: an option of the loss is out of range.
    """
    name = loss_config.WhichOneof("loss")
    check = LOSSES.entry(name).check
    if check is not None:
        check(getattr(loss_config, name))
    return name


def build_loss(loss_config) -> tuple[str, Callable]:
    """Returns ``(name, fn)`` for a LossConfig message.

    Raises:
        ValueError: an option of the loss is out of range.
    """
    name = check_loss(loss_config)
    return name, LOSSES[name](getattr(loss_config, name))


def _register(name: str, task_type: str, check: Callable | None = None, **facts) -> None:
    builder = f"easymtl.losses.{name}:build_{name}"
    LOSSES.register(name, builder, task_type=task_type, check=check, **facts)


_register("binary_cross_entropy", BINARY, check_label_smoothing)
_register("binary_focal_loss", BINARY, check_focal)
_register("huber_loss", REGRESSION, check_delta)
_register(
    "jrc_loss",
    MULTICLASS,
    check_jrc,
    columns=lambda config: [config.session_name],
    num_class=2,
)
_register("l2_loss", REGRESSION)
_register("softmax_cross_entropy", MULTICLASS, check_label_smoothing)

__all__ = [
    "BINARY",
    "LOSSES",
    "MULTICLASS",
    "REGRESSION",
    "build_loss",
    "check_loss",
    "loss_columns",
]
