"""Losses: a registry from LossConfig's `loss` oneof name to a loss builder.

A builder takes its sub-message and returns ``fn(labels, logits) -> per-example loss``.
"""

from __future__ import annotations

from collections.abc import Callable

LOSSES: dict[str, Callable] = {}


def register_loss(name: str) -> Callable:
    """Registers a builder for the `name` entry of LossConfig's `loss` oneof."""

    def wrap(builder: Callable) -> Callable:
        LOSSES[name] = builder
        return builder

    return wrap


def build_loss(loss_config) -> tuple[str, Callable]:
    """Returns ``(name, fn)`` for a LossConfig message."""
    name = loss_config.WhichOneof("loss")
    return name, LOSSES[name](getattr(loss_config, name))


from easymtl.losses import binary_cross_entropy  # noqa: E402, F401

__all__ = ["LOSSES", "build_loss", "register_loss"]
