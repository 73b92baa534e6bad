"""The shared part of DBMTL (Deep Bayesian Multi-Target Learning, Wang et al., 2019)."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.blocks import make_block
from easymtl.layers.masknet import MaskNet
from easymtl.layers.mlp import MLP
from easymtl.layers.mmoe import MMoE


@keras.saving.register_keras_serializable(package="easymtl")
class DBMTL(keras.layers.Layer):
    """MaskNet → bottom MLP → MMoE → per task its MLP → per task its relation MLP over its own
    representation and the relation representations of the earlier tasks it names.

    Task k's representation ``r_k`` (what its output head reads) is
    ``relation_mlp_k(concat(h_k, r_j for j in relations[k]))`` with ``h_k`` the output
    of its own MLP (or its input, without one), or ``h_k`` itself without a relation
    MLP. This is how a CVR task is conditioned on the CTR task: TorchEasyRec's DBMTL.

    Args:
        num_tasks: Number of tasks.
        bottom_mlp: Keyword arguments of the shared bottom :class:`MLP` (or a block
            spec, see :func:`easymtl.layers.blocks.make_block`), or None.
        mmoe: Keyword arguments of an :class:`MMoE` on the bottom's output (without
            `num_tasks`), or None: every task reads the bottom's output.
        mask_net: Keyword arguments of a :class:`MaskNet` under the bottom MLP
            (TorchEasyRec's DBMTL mask_net), or None.
        task_mlps: Per task, keyword arguments of its MLP, or None.
        relations: Per task, the indices of the earlier tasks it takes in.
        relation_mlps: Per task, keyword arguments of its relation MLP, or None (then
            its relations must be empty).

    Call returns a list of `num_tasks` tensors; with ``return_gates=True`` also the
    MMoE's gate weights (see :meth:`gate_specs`).

    Example:
        >>> dbmtl = DBMTL(2, bottom_mlp={"hidden_units": [16]},
        ...               task_mlps=[{"hidden_units": [8]}, {"hidden_units": [8]}],
        ...               relations=[[], [0]], relation_mlps=[None, {"hidden_units": [4]}])
        >>> [t.shape for t in dbmtl(keras.ops.ones((3, 5)))]
        [(3, 8), (3, 4)]
    """

    def __init__(
        self,
        num_tasks: int,
        bottom_mlp: dict | None = None,
        mmoe: dict | None = None,
        mask_net: dict | None = None,
        task_mlps: list[dict | None] | None = None,
        relations: list[list[int]] | None = None,
        relation_mlps: list[dict | None] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_tasks <= 0:
            raise ValueError(f"`num_tasks` must be positive. Received: {num_tasks}")
        self.num_tasks = num_tasks
        self.bottom_mlp = dict(bottom_mlp) if bottom_mlp else None
        self.mask_net_kwargs = dict(mask_net) if mask_net else None
        self.mmoe_kwargs = dict(mmoe) if mmoe else None
        self.task_mlps = [dict(m) if m else None for m in task_mlps or [None] * num_tasks]
        self.relations = [[int(j) for j in r] for r in relations or [[]] * num_tasks]
        self.relation_mlps = [dict(m) if m else None for m in relation_mlps or [None] * num_tasks]
        for name in ("task_mlps", "relations", "relation_mlps"):
            if len(getattr(self, name)) != num_tasks:
                raise ValueError(
                    f"`{name}` must have one entry per task ({num_tasks}). "
                    f"Received: {getattr(self, name)}"
                )
        for k, (related, mlp) in enumerate(zip(self.relations, self.relation_mlps)):
            if any(not 0 <= j < k for j in related):
                raise ValueError(
                    f"`relations[{k}]` must name earlier tasks only. Received: {related}"
                )
            if related and mlp is None:
                raise ValueError(f"Task {k} has relations but no relation MLP.")
        self.mask_net = MaskNet(**self.mask_net_kwargs, name="mask_net") if mask_net else None
        self.bottom = make_block(self.bottom_mlp, name="bottom_mlp") if self.bottom_mlp else None
        self.mmoe = MMoE(num_tasks, **self.mmoe_kwargs, name="mmoe") if self.mmoe_kwargs else None
        self.task_layers = [
            MLP(**m, name=f"task_mlp_{k}") if m else None for k, m in enumerate(self.task_mlps)
        ]
        self.relation_layers = [
            MLP(**m, name=f"relation_mlp_{k}") if m else None
            for k, m in enumerate(self.relation_mlps)
        ]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in (self.mask_net, self.bottom):
            if layer is not None:
                layer.build(shape)
                shape = tuple(layer.compute_output_shape(shape))
        if self.mmoe is not None:
            self.mmoe.build(shape)
            shape = self.mmoe.compute_output_shape(shape)[0]
        widths = []
        for k in range(self.num_tasks):
            task, relation = self.task_layers[k], self.relation_layers[k]
            own = shape
            if task is not None:
                task.build(own)
                own = task.compute_output_shape(own)
            width = own[-1]
            if relation is not None:
                relation.build(own[:-1] + (width + sum(widths[j] for j in self.relations[k]),))
                width = relation.hidden_units[-1]
            widths.append(width)

    def call(self, inputs, training=None, return_gates=False):
        x = inputs
        for layer in (self.mask_net, self.bottom):
            if layer is not None:
                x = layer(x, training=training)
        gates = []
        if self.mmoe is not None:
            task_inputs, gates = self.mmoe(x, training=training, return_gates=True)
        else:
            task_inputs = [x] * self.num_tasks
        reps = []
        for k in range(self.num_tasks):
            task, relation = self.task_layers[k], self.relation_layers[k]
            h = task(task_inputs[k], training=training) if task is not None else task_inputs[k]
            if relation is not None:
                h = relation(
                    ops.concatenate([h] + [reps[j] for j in self.relations[k]], axis=-1),
                    training=training,
                )
            reps.append(h)
        return (reps, gates) if return_gates else reps

    def gate_specs(self) -> list[tuple[str, int | None, list[str]]]:
        """The MMoE's gates (see :meth:`MMoE.gate_specs`); none without an MMoE."""
        return self.mmoe.gate_specs() if self.mmoe is not None else []

    def get_config(self):
        return {
            **super().get_config(),
            "num_tasks": self.num_tasks,
            "bottom_mlp": self.bottom_mlp,
            "mmoe": self.mmoe_kwargs,
            "mask_net": self.mask_net_kwargs,
            "task_mlps": self.task_mlps,
            "relations": self.relations,
            "relation_mlps": self.relation_mlps,
        }
