"""DC2VR's computation (TorchEasyRec's DC2VR): MMoE towers whose representations later
towers intervene on."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from easymtl.layers.mlp import MLP
from easymtl.layers.mmoe import MMoE


def orthonormal(weight):
    """The orthonormal columns spanning `weight`'s ([n, r], n > r): its QR's Q, signed
    so that R's diagonal is positive (a smooth map, as PyTorch's orthogonal
    parametrization is one)."""
    q, r = tf.linalg.qr(weight)
    return q * tf.sign(tf.linalg.diag_part(r) + 1e-12)[None, :]


@keras.saving.register_keras_serializable(package="easymtl")
class Intervention(keras.layers.Layer):
    """``base + ((base Rb) - (stop_gradient(source) Rs)) Rb^T``, then dropout: the
    source's influence taken out of the base in a shared low-rank space; Rb [base width,
    low_rank_dim] and Rs [source width, low_rank_dim] have orthonormal columns.

    Args:
        low_rank_dim: Width of the shared space; below both inputs' widths.
        dropout_ratio: Dropout on the output, in training.

    Call takes ``(base [batch, b], source [batch, s])`` and returns [batch, b].

    Example:
        >>> x = keras.ops.ones((2, 4))
        >>> Intervention(2)((x, keras.ops.ones((2, 3)))).shape
        (2, 4)
    """

    def __init__(self, low_rank_dim: int, dropout_ratio: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if low_rank_dim <= 0:
            raise ValueError(f"`low_rank_dim` must be positive. Received: {low_rank_dim}")
        if not 0 <= dropout_ratio < 1:
            raise ValueError(f"`dropout_ratio` must be in [0, 1). Received: {dropout_ratio}")
        self.low_rank_dim = int(low_rank_dim)
        self.dropout_ratio = float(dropout_ratio)
        self.dropout = keras.layers.Dropout(self.dropout_ratio)

    def build(self, input_shape):
        base, source = (tuple(s) for s in input_shape)
        for name, width in (("base", base[-1]), ("source", source[-1])):
            if width <= self.low_rank_dim:
                raise ValueError(
                    f"`low_rank_dim` ({self.low_rank_dim}) must be below the {name}'s width "
                    f"({width})."
                )
        self.base_rotation = self.add_weight(
            shape=(base[-1], self.low_rank_dim), initializer="orthogonal", name="base_rotation"
        )
        self.source_rotation = self.add_weight(
            shape=(source[-1], self.low_rank_dim), initializer="orthogonal", name="source_rotation"
        )

    def call(self, inputs, training=None):
        base, source = inputs
        rb = orthonormal(self.base_rotation)
        rs = orthonormal(self.source_rotation)
        moved = ops.matmul(base, rb) - ops.matmul(ops.stop_gradient(source), rs)
        return self.dropout(ops.matmul(moved, ops.transpose(rb)) + base, training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {
            **super().get_config(),
            "low_rank_dim": self.low_rank_dim,
            "dropout_ratio": self.dropout_ratio,
        }


@keras.saving.register_keras_serializable(package="easymtl")
class DC2VR(keras.layers.Layer):
    """bottom MLP (optional) → MMoE (optional) → each task's MLP (optional) → each
    intervened task's :class:`Intervention` by the earlier towers' representations it
    names: the per-task representations, under the towers' linear heads.

    Args:
        num_tasks: Number of tasks.
        bottom_mlp: Keyword arguments of the shared :class:`MLP`, or None.
        mmoe: Keyword arguments of an :class:`MMoE` (without num_tasks), or None.
        task_mlps: Per task, keyword arguments of its MLP, or None.
        interventions: Per task, None or ``[sources (earlier task indices), low_rank_dim,
            dropout_ratio]``.

    Example:
        >>> layer = DC2VR(2, task_mlps=[{"hidden_units": [4]}, None],
        ...               interventions=[None, [[0], 2, 0.1]])
        >>> [t.shape for t in layer(keras.ops.ones((3, 5)))]
        [(3, 4), (3, 5)]
    """

    def __init__(
        self,
        num_tasks: int,
        bottom_mlp: dict | None = None,
        mmoe: dict | None = None,
        task_mlps: list | None = None,
        interventions: list | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_tasks = int(num_tasks)
        self.bottom_mlp = dict(bottom_mlp) if bottom_mlp else None
        self.mmoe_kwargs = dict(mmoe) if mmoe else None
        self.task_mlps = [dict(m) if m else None for m in task_mlps or [None] * num_tasks]
        self.interventions = [list(i) if i else None for i in interventions or [None] * num_tasks]
        if len(self.task_mlps) != num_tasks or len(self.interventions) != num_tasks:
            raise ValueError("`task_mlps` and `interventions` must have one entry per task.")
        for k, spec in enumerate(self.interventions):
            if spec and any(not 0 <= s < k for s in spec[0]):
                raise ValueError(
                    f"Task {k} may intervene with earlier tasks only. Received: {spec}"
                )
        self.bottom = MLP(**self.bottom_mlp, name="bottom_mlp") if self.bottom_mlp else None
        self.mmoe = MMoE(num_tasks, **self.mmoe_kwargs, name="mmoe") if self.mmoe_kwargs else None
        self.mlps = [
            MLP(**m, name=f"task_mlp_{k}") if m else None for k, m in enumerate(self.task_mlps)
        ]
        self.intervention_layers = [
            Intervention(s[1], s[2], name=f"intervention_{k}") if s else None
            for k, s in enumerate(self.interventions)
        ]

    def build(self, input_shape):
        shape = tuple(input_shape)
        if self.bottom is not None:
            self.bottom.build(shape)
            shape = self.bottom.compute_output_shape(shape)
        if self.mmoe is not None:
            self.mmoe.build(shape)
            shape = shape[:-1] + (self.mmoe_kwargs["expert_mlp"]["hidden_units"][-1],)
        widths = []
        for mlp, spec, layer in zip(self.mlps, self.interventions, self.intervention_layers):
            task = shape
            if mlp is not None:
                mlp.build(shape)
                task = mlp.compute_output_shape(shape)
            if layer is not None:
                layer.build((task, shape[:-1] + (sum(widths[s] for s in spec[0]),)))
            widths.append(task[-1])

    def call(self, inputs, training=None):
        x = self.bottom(inputs, training=training) if self.bottom is not None else inputs
        reps = self.mmoe(x, training=training) if self.mmoe is not None else [x] * self.num_tasks
        reps = [m(r, training=training) if m is not None else r for m, r in zip(self.mlps, reps)]
        out = []
        for rep, spec, layer in zip(reps, self.interventions, self.intervention_layers):
            if layer is not None:
                sources = [out[s] for s in spec[0]]
                source = ops.concatenate(sources, axis=-1) if len(sources) > 1 else sources[0]
                rep = layer((rep, source), training=training)
            out.append(rep)
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "num_tasks": self.num_tasks,
            "bottom_mlp": self.bottom_mlp,
            "mmoe": self.mmoe_kwargs,
            "task_mlps": self.task_mlps,
            "interventions": self.interventions,
        }
