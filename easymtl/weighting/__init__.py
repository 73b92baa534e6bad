"""Loss weighting: how the task losses combine into the training loss.

A registry from LossWeighting's `strategy` oneof name to a builder; without a
``loss_weighting`` block the towers' fixed weights apply (:class:`LossWeighting`). A
builder takes its sub-message, the tower names and weights in task order, and the
field path for its errors, and returns a :class:`LossWeighting`.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from easymtl.errors import ConfigError
from easymtl.weighting.fixed import LossWeighting

WEIGHTINGS: dict[str, Callable[..., LossWeighting]] = {}


def register_weighting(name: str) -> Callable:
    """Registers a builder for the `name` entry of LossWeighting's `strategy` oneof."""

    def wrap(builder: Callable) -> Callable:
        WEIGHTINGS[name] = builder
        return builder

    return wrap


def build_loss_weighting(model_config, tasks) -> LossWeighting:
    """The loss weighting of `model_config` (its `loss_weighting` block) over `tasks`.

    Raises:
        ConfigError: a bad option, naming its field.
    """
    names, weights = [t.name for t in tasks], [t.weight for t in tasks]
    block = model_config.loss_weighting
    kind = block.WhichOneof("strategy") if model_config.HasField("loss_weighting") else None
    if kind is None:
        if model_config.HasField("loss_weighting"):
            raise ConfigError(
                "model_config.loss_weighting", "expected a strategy, e.g. uncertainty {}"
            )
        return LossWeighting(names, weights)
    where = f"model_config.loss_weighting.{kind}"
    try:
        return WEIGHTINGS[kind](getattr(block, kind), names, weights, where)
    except ValueError as e:
        raise ConfigError(where, str(e)) from None


def check_positive_weights(task_names: list[str], weights: list[float], where: str) -> None:
    """Raises ConfigError unless every tower weight is > 0 (learned weights start there)."""
    for name, weight in zip(task_names, weights):
        if not weight > 0:
            raise ConfigError(
                where, f"needs every tower weight > 0 to start from; tower {name!r} has {weight}"
            )


def shared_variables(model, tasks, inputs: dict, labels: dict, variables: list) -> list:
    """The `variables` that more than one task's loss reaches (PCGrad's and GradNorm's
    shared parameters), found from one forward pass on `inputs` and `labels`."""
    with tf.GradientTape(persistent=True) as tape:
        outputs = model(inputs, training=False)
        losses = [t.loss(labels, outputs) for t in tasks]
    reached = [0] * len(variables)
    for loss in losses:
        for i, grad in enumerate(tape.gradient(loss, variables)):
            reached[i] += grad is not None
    del tape
    return [v for v, n in zip(variables, reached) if n > 1]


# The registrations (imported for their side effect, after the registry exists).
from easymtl.weighting import dwa, dynamic_decay, grad_norm, pcgrad, uncertainty  # noqa: E402, F401

__all__ = [
    "WEIGHTINGS",
    "LossWeighting",
    "build_loss_weighting",
    "register_weighting",
    "shared_variables",
]
