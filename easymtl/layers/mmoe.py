"""Multi-gate Mixture-of-Experts (Ma et al., KDD 2018)."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.blocks import make_block
from easymtl.layers.mlp import MLP


@keras.saving.register_keras_serializable(package="easymtl")
class MMoE(keras.layers.Layer):
    """Shared experts mixed per task by a softmax gate on the input.

    Args:
        num_tasks: Number of tasks (one gate each).
        num_expert: Number of experts.
        expert_mlp: Keyword arguments of each expert's :class:`MLP`, or a block spec
            (``{"kind": "dcn_v2", ...}``, see :func:`easymtl.layers.blocks.make_block`):
            every expert is one such block.
        gate_mlp: Keyword arguments of an MLP under each gate's softmax, or None for a
            linear gate.
        share_gate: One gate for all tasks (OMoE): every task gets the same mix.
        gate_temperature: Each gate's softmax is taken of its logits divided by this;
            above 1 it is flatter, which counters gates collapsing onto one expert.
        gate_dropout_ratio: In training, each expert is left out of a row's gate with
            this probability (its weight 0, the others renormalized), so that no task
            comes to rely on a single expert.

    Call returns a list of `num_tasks` tensors, each [batch, an expert's output width];
    with ``return_gates=True``, also the gates' weights ([batch, num_expert] each, in
    the order of :meth:`gate_specs`).

    Example:
        >>> mmoe = MMoE(2, 3, expert_mlp={"hidden_units": [16]})
        >>> [t.shape for t in mmoe(keras.ops.ones((4, 8)))]
        [(4, 16), (4, 16)]
    """

    def __init__(
        self,
        num_tasks: int,
        num_expert: int,
        expert_mlp: dict,
        gate_mlp: dict | None = None,
        share_gate: bool = False,
        gate_temperature: float = 1.0,
        gate_dropout_ratio: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_tasks <= 0:
            raise ValueError(f"`num_tasks` must be positive. Received: {num_tasks}")
        if num_expert <= 0:
            raise ValueError(f"`num_expert` must be positive. Received: {num_expert}")
        self.num_tasks = num_tasks
        self.num_expert = num_expert
        self.expert_mlp = dict(expert_mlp)
        self.gate_mlp = dict(gate_mlp) if gate_mlp else None
        self.share_gate = share_gate
        self.gate_temperature = float(gate_temperature)
        self.gate_dropout_ratio = float(gate_dropout_ratio)
        self.experts = [make_block(self.expert_mlp, name=f"expert_{i}") for i in range(num_expert)]
        num_gates = 1 if share_gate else num_tasks
        self.gates = [
            _Gate(
                num_expert,
                self.gate_mlp,
                temperature=self.gate_temperature,
                dropout_ratio=self.gate_dropout_ratio,
                name=f"gate_{t}",
            )
            for t in range(num_gates)
        ]

    def build(self, input_shape):
        for layer in self.experts + self.gates:
            layer.build(input_shape)

    def call(self, inputs, training=None, return_gates=False):
        experts = ops.stack([e(inputs, training=training) for e in self.experts], axis=1)
        weights = [g(inputs, training=training) for g in self.gates]
        mixes = [mix(experts, w) for w in weights]
        if self.share_gate:
            mixes = mixes * self.num_tasks
        return (mixes, weights) if return_gates else mixes

    def compute_output_shape(self, input_shape):
        shape = self.experts[0].compute_output_shape(tuple(input_shape))
        return [tuple(shape)] * self.num_tasks

    def gate_specs(self) -> list[tuple[str, int | None, list[str]]]:
        """``(level, task, experts)`` of each gate, in the order ``call`` returns their
        weights: the level (this layer's name), the task index (None for OMoE's gate,
        shared by all tasks) and the names of the experts it weighs."""
        experts = [e.name for e in self.experts]
        tasks = [None] if self.share_gate else list(range(self.num_tasks))
        return [(self.name, t, experts) for t in tasks]

    def get_config(self):
        return {
            **super().get_config(),
            "num_tasks": self.num_tasks,
            "num_expert": self.num_expert,
            "expert_mlp": self.expert_mlp,
            "gate_mlp": self.gate_mlp,
            "share_gate": self.share_gate,
            "gate_temperature": self.gate_temperature,
            "gate_dropout_ratio": self.gate_dropout_ratio,
        }


def mix(experts, weights):
    """Weighted sum of stacked experts [batch, n, dim] by gate weights [batch, n]."""
    return ops.einsum("bnd,bn->bd", experts, weights)


@keras.saving.register_keras_serializable(package="easymtl")
class _Gate(keras.layers.Layer):
    """Softmax over `num_choices`, on an optional MLP of the input.

    Args:
        num_choices: Number of experts it weighs.
        mlp: Keyword arguments of an MLP under the softmax's Dense layer, or None.
        temperature: The softmax is of the logits divided by this (> 0).
        dropout_ratio: In training, the probability of leaving each choice out of a
            row's softmax (a row never loses all of them).
    """

    def __init__(
        self,
        num_choices: int,
        mlp: dict | None = None,
        temperature: float = 1.0,
        dropout_ratio: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ValueError(f"`temperature` must be positive. Received: {temperature}")
        if not 0 <= dropout_ratio < 1:
            raise ValueError(f"`dropout_ratio` must be in [0, 1). Received: {dropout_ratio}")
        self.num_choices = num_choices
        self.mlp_kwargs = dict(mlp) if mlp else None
        self.temperature = float(temperature)
        self.dropout_ratio = float(dropout_ratio)
        self.mlp = MLP(**self.mlp_kwargs, name="mlp") if mlp else None
        self.logits = keras.layers.Dense(num_choices, name="logits")
        self.seed = keras.random.SeedGenerator() if self.dropout_ratio else None

    def build(self, input_shape):
        shape = tuple(input_shape)
        if self.mlp is not None:
            self.mlp.build(shape)
            shape = self.mlp.compute_output_shape(shape)
        self.logits.build(shape)

    def call(self, inputs, training=None):
        x = self.mlp(inputs, training=training) if self.mlp is not None else inputs
        logits = self.logits(x)
        if self.temperature != 1.0:
            logits = logits / self.temperature
        if training and self.dropout_ratio:
            keep = keras.random.uniform(ops.shape(logits), seed=self.seed) >= self.dropout_ratio
            keep = ops.logical_or(keep, ops.logical_not(ops.any(keep, axis=-1, keepdims=True)))
            logits = ops.where(keep, logits, ops.full_like(logits, -1e9))
        return ops.softmax(logits, axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "num_choices": self.num_choices,
            "mlp": self.mlp_kwargs,
            "temperature": self.temperature,
            "dropout_ratio": self.dropout_ratio,
        }
