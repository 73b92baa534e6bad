"""Loss weighting: how the task losses combine into the training loss.

A registry from LossWeighting's `strategy` oneof name to a builder; without a
``loss_weighting`` block the towers' fixed weights apply
(:class:`~easymtl.weighting.fixed.LossWeighting`). A builder takes its sub-message, the
tower names and weights in task order, and the field path for its errors, and returns a
LossWeighting. Each is registered with a ``check`` taking the same arguments (raising
ValueError or ConfigError), run at validation without TensorFlow.

Adding a strategy: its file here (the LossWeighting subclass and its builder), its
message in protos/loss_weighting.proto and one ``_register`` line below.
"""

from __future__ import annotations

import math

from easymtl.errors import ConfigError
from easymtl.registry import Registry

WEIGHTINGS = Registry("loss weighting")


def check_positive_weights(task_names: list[str], weights: list[float], where: str) -> None:
    """Raises ConfigError unless every tower weight is > 0 (learned weights start there)."""
    for name, weight in zip(task_names, weights):
        if not weight > 0:
            raise ConfigError(
                where, f"needs every tower weight > 0 to start from; tower {name!r} has {weight}"
            )


def _two_towers(task_names: list[str]) -> None:
    if len(task_names) < 2:
        raise ValueError("needs at least two task towers")


def check_uncertainty(config, task_names, weights, where: str) -> None:
    check_positive_weights(task_names, weights, where)


def check_grad_norm(config, task_names, weights, where: str) -> None:
    check_positive_weights(task_names, weights, where)
    _two_towers(task_names)
    if not 0 <= config.alpha < math.inf:
        raise ValueError(f"`alpha` must be >= 0. Received: {config.alpha}")
    if not 0 < config.lr < math.inf:
        raise ValueError(f"`lr` must be positive. Received: {config.lr}")


def check_pcgrad(config, task_names, weights, where: str) -> None:
    _two_towers(task_names)


def check_dwa(config, task_names, weights, where: str) -> None:
    if not 0 < config.temperature < math.inf:
        raise ValueError(f"`temperature` must be positive. Received: {config.temperature}")
    if config.window_steps <= 0:
        raise ValueError(f"`window_steps` must be positive. Received: {config.window_steps}")


def check_dynamic_decay(config, task_names, weights, where: str) -> None:
    for i, decay in enumerate(config.tower_decay):
        path = f"{where}.tower_decay[{i}]"
        if decay.tower_name not in task_names:
            raise ConfigError(
                f"{path}.tower_name",
                f"unknown tower {decay.tower_name!r}; expected one of {', '.join(task_names)}",
            )
        if any(d.tower_name == decay.tower_name for d in config.tower_decay[:i]):
            raise ConfigError(f"{path}.tower_name", f"tower {decay.tower_name!r} given twice")
        if not 0 < decay.gamma < math.inf:
            raise ConfigError(f"{path}.gamma", f"must be a positive number, got {decay.gamma}")


def _strategy(model_config) -> str | None:
    """The loss weighting strategy's name, or None (fixed weights).

    Raises:
        ConfigError: a loss_weighting block without a strategy.
    """
    if not model_config.HasField("loss_weighting"):
        return None
    kind = model_config.loss_weighting.WhichOneof("strategy")
    if kind is None:
        raise ConfigError("model_config.loss_weighting", "expected a strategy, e.g. uncertainty {}")
    return kind


def check_loss_weighting(model_config, task_names: list[str], weights: list[float]) -> None:
    """Checks `model_config`'s `loss_weighting` block against the towers' names and
    weights, without building it.

    Raises:
        ConfigError: a bad option, naming its field.
    """
    kind = _strategy(model_config)
    if kind is None:
        return
    where = f"model_config.loss_weighting.{kind}"
    try:
        WEIGHTINGS.entry(kind).check(
            getattr(model_config.loss_weighting, kind), task_names, weights, where
        )
    except ValueError as e:
        raise ConfigError(where, str(e)) from None


def build_loss_weighting(model_config, tasks):
    """The loss weighting of `model_config` (its `loss_weighting` block) over `tasks`.

    Raises:
        ConfigError: a bad option, naming its field.
    """
    from easymtl.weighting.fixed import LossWeighting

    names, weights = [t.name for t in tasks], [t.weight for t in tasks]
    check_loss_weighting(model_config, names, weights)
    kind = _strategy(model_config)
    if kind is None:
        return LossWeighting(names, weights)
    where = f"model_config.loss_weighting.{kind}"
    try:
        return WEIGHTINGS[kind](getattr(model_config.loss_weighting, kind), names, weights, where)
    except ValueError as e:
        raise ConfigError(where, str(e)) from None


def shared_variables(model, tasks, inputs: dict, labels: dict, variables: list) -> list:
    """The `variables` that more than one task's loss reaches (PCGrad's and GradNorm's
    shared parameters), found from one forward pass on `inputs` and `labels`."""
    import tensorflow as tf

    with tf.GradientTape(persistent=True) as tape:
        outputs = model(inputs, training=False)
        losses = [t.loss(labels, outputs) for t in tasks]
    reached = [0] * len(variables)
    for loss in losses:
        for i, grad in enumerate(tape.gradient(loss, variables)):
            reached[i] += grad is not None
    del tape
    return [v for v, n in zip(variables, reached) if n > 1]


def _register(name: str, check) -> None:
    WEIGHTINGS.register(name, f"easymtl.weighting.{name}:build_{name}", check=check)


_register("dynamic_decay", check_dynamic_decay)
_register("uncertainty", check_uncertainty)
_register("dwa", check_dwa)
_register("grad_norm", check_grad_norm)
_register("pcgrad", check_pcgrad)

__all__ = [
    "WEIGHTINGS",
    "build_loss_weighting",
    "check_loss_weighting",
    "shared_variables",
]
