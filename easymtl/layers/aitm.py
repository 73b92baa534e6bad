"""AITM: Adaptive Information Transfer Multi-task (Xi et al., KDD 2021): the AIT layers
and the calibrated task of each step after the first."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import ops

from easymtl.layers.mlp import MLP
from easymtl.tasks import Task


@keras.saving.register_keras_serializable(package="easymtl")
class AdaptiveInformationTransfer(keras.layers.Layer):
    """The AIT module: attention over a task's own representation q and the
    information p transferred from the previous task.

    ``z = sum_u w_u h3(u)`` over u in (p, q), with ``w = softmax_u(<h1(u), h2(u)> /
    sqrt(dim))`` and h1, h2, h3 linear maps to `dim` units shared by p and q.

    Args:
        dim: Width of p, q and z.

    Call takes ``[p, q]`` ([batch, dim] each) and returns z [batch, dim]; with
    ``return_weights=True`` also w [batch, 2] (p's weight, then q's).

    Example:
        >>> ait = AdaptiveInformationTransfer(4)
        >>> x = keras.ops.ones((2, 4))
        >>> ait([x, x]).shape
        (2, 4)
    """

    def __init__(self, dim: int, **kwargs):
        super().__init__(**kwargs)
        if dim <= 0:
            raise ValueError(f"`dim` must be positive. Received: {dim}")
        self.dim = int(dim)
        self.h1, self.h2, self.h3 = (
            keras.layers.Dense(self.dim, use_bias=False, name=name)
            for name in ("query", "key", "value")
        )

    def build(self, input_shape):
        shape = tuple(input_shape[0])
        for layer in (self.h1, self.h2, self.h3):
            layer.build(shape)

    def call(self, inputs, return_weights=False):
        u = ops.stack(list(inputs), axis=1)  # [batch, 2, dim]
        scores = ops.sum(self.h1(u) * self.h2(u), axis=-1) / math.sqrt(self.dim)
        weights = ops.softmax(scores, axis=-1)
        z = ops.sum(weights[..., None] * self.h3(u), axis=1)
        return (z, weights) if return_weights else z

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}


@keras.saving.register_keras_serializable(package="easymtl")
class AITM(keras.layers.Layer):
    """Task towers along a funnel with adaptive information transfer.

    Task t's tower MLP gives q_t; the first task's representation is z_1 = q_1, and each
    later one's is z_t = AIT([info_t(z_(t-1)), q_t]), where info_t is an MLP (the
    information module) from the previous task's representation.

    Args:
        tower_mlps: Keyword arguments of each task's tower :class:`MLP`, in funnel
            order; their last hidden_units must be equal (D).
        info_mlp: Keyword arguments of each information module's MLP (its last
            hidden_units D); default one layer of D units with ReLU.

    Call returns a list of the tasks' representations z_t ([batch, D] each).

    Example:
        >>> aitm = AITM([{"hidden_units": [16, 8]}, {"hidden_units": [16, 8]}])
        >>> [t.shape for t in aitm(keras.ops.ones((3, 5)))]
        [(3, 8), (3, 8)]
    """

    def __init__(self, tower_mlps: list[dict], info_mlp: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if not tower_mlps:
            raise ValueError("`tower_mlps` must not be empty.")
        self.tower_mlps = [dict(m) for m in tower_mlps]
        widths = {m["hidden_units"][-1] for m in self.tower_mlps}
        if len(widths) != 1:
            raise ValueError(
                "The towers' last hidden_units must be equal (the AIT attention mixes "
                f"them). Received: {sorted(widths)}"
            )
        self.dim = int(widths.pop())
        self.info_mlp = dict(info_mlp) if info_mlp else {"hidden_units": [self.dim]}
        if self.info_mlp["hidden_units"][-1] != self.dim:
            raise ValueError(
                f"`info_mlp`'s last hidden_units must be {self.dim}, the towers' width. "
                f"Received: {self.info_mlp['hidden_units']}"
            )
        n = len(self.tower_mlps)
        self.towers = [MLP(**m, name=f"tower_mlp_{t}") for t, m in enumerate(self.tower_mlps)]
        self.infos = [MLP(**self.info_mlp, name=f"info_{t}") for t in range(1, n)]
        self.aits = [AdaptiveInformationTransfer(self.dim, name=f"ait_{t}") for t in range(1, n)]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for tower in self.towers:
            tower.build(shape)
        rep = shape[:-1] + (self.dim,)
        for info, ait in zip(self.infos, self.aits):
            info.build(rep)
            ait.build([rep, rep])

    def call(self, inputs, training=None):
        reps = [self.towers[0](inputs, training=training)]
        for tower, info, ait in zip(self.towers[1:], self.infos, self.aits):
            q = tower(inputs, training=training)
            reps.append(ait([info(reps[-1], training=training), q]))
        return reps

    def get_config(self):
        return {**super().get_config(), "tower_mlps": self.tower_mlps, "info_mlp": self.info_mlp}


@dataclass
class CalibratedTask(Task):
    """A task after the first of an AITM funnel: its loss adds the behavioural
    expectation calibrator ``calibrator_weight x mean(max(p - p_previous, 0))`` over
    every row of the batch, with p this task's probability and p_previous the previous
    task's (a conversion cannot be likelier than the click it needs).

    Args:
        previous_name: The previous task's tower name.
        calibrator_weight: The calibrator's weight (alpha; 0: none).
    """

    previous_name: str = ""
    calibrator_weight: float = 0.0

    def calibrator(self, outputs: dict) -> tf.Tensor:
        """mean(max(p - p_previous, 0)) over the batch."""
        gap = outputs[f"probs_{self.name}"] - outputs[f"probs_{self.previous_name}"]
        return tf.reduce_mean(tf.nn.relu(gap))

    def loss(self, labels: dict, outputs: dict) -> tf.Tensor:
        loss = super().loss(labels, outputs)
        if self.calibrator_weight:
            loss += self.calibrator_weight * self.calibrator(outputs)
        return loss


def calibrated_tasks(tasks: list[Task], calibrator_weight: float) -> list[Task]:
    """`tasks` with each one after the first made a :class:`CalibratedTask` against the
    one before it."""
    fields = [f.name for f in dataclasses.fields(Task)]
    return tasks[:1] + [
        CalibratedTask(
            **{name: getattr(task, name) for name in fields},
            previous_name=previous.name,
            calibrator_weight=calibrator_weight,
        )
        for previous, task in zip(tasks, tasks[1:])
    ]
