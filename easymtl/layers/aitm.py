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

# The AIT attentions; the config side checks the same names (easymtl.models.aitm, which
# imports no Keras).
ATTENTIONS = ("self", "own_query")


@keras.saving.register_keras_serializable(package="easymtl")
class AdaptiveInformationTransfer(keras.layers.Layer):
    """The AIT module: attention over a task's own representation q and the
    information p transferred from the previous task.

    - ``attention="self"`` (the paper): ``z = sum_u w_u h3(u)`` over u in (p, q), with
      ``w = softmax_u(<h1(u), h2(u)> / sqrt(dim))`` and h1, h2, h3 linear maps to `dim`
      units shared by p and q;
    - ``attention="own_query"`` (EasyRec's AITMTower): ``z = sum_u w_u V_u(u)`` with
      ``w = softmax_u(<Q(q), K_u(u)> / sqrt(dim))``: q is the query; each input has its
      own key and value maps, all with biases.

    Args:
        dim: Width of p, q and z.
        attention: "self" or "own_query".

    Call takes ``[p, q]`` ([batch, dim] each) and returns z [batch, dim]; with
    ``return_weights=True`` also w [batch, 2] (p's weight, then q's).

    Example:
        >>> ait = AdaptiveInformationTransfer(4)
        >>> x = keras.ops.ones((2, 4))
        >>> ait([x, x]).shape
        (2, 4)
    """

    def __init__(self, dim: int, attention: str = "self", **kwargs):
        super().__init__(**kwargs)
        if dim <= 0:
            raise ValueError(f"`dim` must be positive. Received: {dim}")
        if attention not in ATTENTIONS:
            raise ValueError(f"`attention` must be one of {ATTENTIONS}. Received: {attention!r}")
        self.dim = int(dim)
        self.attention = attention
        if attention == "self":
            self.h1, self.h2, self.h3 = (
                keras.layers.Dense(self.dim, use_bias=False, name=name)
                for name in ("query", "key", "value")
            )
            self.projections = [self.h1, self.h2, self.h3]
        else:
            self.projections = [
                keras.layers.Dense(self.dim, name=name)
                for name in ("query", "key_info", "key_own", "value_info", "value_own")
            ]

    def build(self, input_shape):
        shape = tuple(input_shape[0])
        for layer in self.projections:
            layer.build(shape)

    def call(self, inputs, return_weights=False):
        if self.attention == "self":
            u = ops.stack(list(inputs), axis=1)  # [batch, 2, dim]
            scores = ops.sum(self.h1(u) * self.h2(u), axis=-1) / math.sqrt(self.dim)
            values = self.h3(u)
        else:
            p, q = inputs
            query, key_p, key_q, value_p, value_q = self.projections
            keys = ops.stack([key_p(p), key_q(q)], axis=1)
            scores = ops.sum(query(q)[:, None, :] * keys, axis=-1) / math.sqrt(self.dim)
            values = ops.stack([value_p(p), value_q(q)], axis=1)
        weights = ops.softmax(scores, axis=-1)
        z = ops.sum(weights[..., None] * values, axis=1)
        return (z, weights) if return_weights else z

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "attention": self.attention}


@keras.saving.register_keras_serializable(package="easymtl")
class AITM(keras.layers.Layer):
    """Task towers along a funnel with adaptive information transfer.

    Task t's tower MLP gives q_t; the first task's representation is z_1 = q_1, and each
    later one's is z_t = AIT([info_t(z_(t-1)), q_t]), where info_t is an MLP (the
    information module) from the previous task's representation. Optionally a shared
    bottom MLP under the towers, an output MLP per task on z_t, and no gradient through
    the transferred information (EasyRec's AITM).

    Args:
        tower_mlps: Keyword arguments of each task's tower :class:`MLP`, in funnel
            order; their last hidden_units must be equal (D).
        info_mlp: Keyword arguments of each information module's MLP (its last
            hidden_units D); default one layer of D units with ReLU.
        bottom_mlp: Keyword arguments of an MLP shared under the towers, or None.
        output_mlps: Keyword arguments of each task's MLP on z_t, or None.
        stop_gradient: The transferred z_(t-1) carries no gradient back.
        attention: The AIT attention, "self" or "own_query" (see
            :class:`AdaptiveInformationTransfer`).

    Call returns a list of the tasks' representations (z_t, or its output MLP's output).

    Example:
        >>> aitm = AITM([{"hidden_units": [16, 8]}, {"hidden_units": [16, 8]}])
        >>> [t.shape for t in aitm(keras.ops.ones((3, 5)))]
        [(3, 8), (3, 8)]
    """

    def __init__(
        self,
        tower_mlps: list[dict],
        info_mlp: dict | None = None,
        bottom_mlp: dict | None = None,
        output_mlps: list[dict] | None = None,
        stop_gradient: bool = False,
        attention: str = "self",
        **kwargs,
    ):
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
        self.output_mlps = [dict(m) for m in output_mlps] if output_mlps else None
        if self.output_mlps is not None and len(self.output_mlps) != n:
            raise ValueError(
                f"`output_mlps` must have one MLP per task ({n}). Received: {len(self.output_mlps)}"
            )
        self.bottom_mlp = dict(bottom_mlp) if bottom_mlp else None
        self.stop_gradient = bool(stop_gradient)
        self.attention = attention
        self.bottom = MLP(**self.bottom_mlp, name="bottom_mlp") if self.bottom_mlp else None
        self.towers = [MLP(**m, name=f"tower_mlp_{t}") for t, m in enumerate(self.tower_mlps)]
        self.infos = [MLP(**self.info_mlp, name=f"info_{t}") for t in range(1, n)]
        self.aits = [
            AdaptiveInformationTransfer(self.dim, attention, name=f"ait_{t}") for t in range(1, n)
        ]
        self.outputs = [
            MLP(**m, name=f"output_mlp_{t}") for t, m in enumerate(self.output_mlps or [])
        ]

    def build(self, input_shape):
        shape = tuple(input_shape)
        if self.bottom is not None:
            self.bottom.build(shape)
            shape = shape[:-1] + (self.bottom.hidden_units[-1],)
        for tower in self.towers:
            tower.build(shape)
        rep = shape[:-1] + (self.dim,)
        for info, ait in zip(self.infos, self.aits):
            info.build(rep)
            ait.build([rep, rep])
        for output in self.outputs:
            output.build(rep)

    def call(self, inputs, training=None):
        x = self.bottom(inputs, training=training) if self.bottom is not None else inputs
        reps = [self.towers[0](x, training=training)]
        for tower, info, ait in zip(self.towers[1:], self.infos, self.aits):
            q = tower(x, training=training)
            previous = ops.stop_gradient(reps[-1]) if self.stop_gradient else reps[-1]
            reps.append(ait([info(previous, training=training), q]))
        if self.outputs:
            return [mlp(z, training=training) for mlp, z in zip(self.outputs, reps)]
        return reps

    def get_config(self):
        return {
            **super().get_config(),
            "tower_mlps": self.tower_mlps,
            "info_mlp": self.info_mlp,
            "bottom_mlp": self.bottom_mlp,
            "output_mlps": self.output_mlps,
            "stop_gradient": self.stop_gradient,
            "attention": self.attention,
        }


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
