"""Multi-gate Mixture-of-Experts (Ma et al., KDD 2018)."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.mlp import MLP


@keras.saving.register_keras_serializable(package="easymtl")
class MMoE(keras.layers.Layer):
    """Shared experts mixed per task by a softmax gate on the input.

    Args:
        num_tasks: Number of tasks (one gate each).
        num_expert: Number of experts.
        expert_mlp: Keyword arguments of each expert's :class:`MLP`.
        gate_mlp: Keyword arguments of an MLP under each gate's softmax, or None for a
            linear gate.
        share_gate: One gate for all tasks (OMoE): every task gets the same mix.

    Call returns a list of `num_tasks` tensors, each [batch, expert_mlp's last units].

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
        self.experts = [MLP(**self.expert_mlp, name=f"expert_{i}") for i in range(num_expert)]
        num_gates = 1 if share_gate else num_tasks
        self.gates = [_Gate(num_expert, self.gate_mlp, name=f"gate_{t}") for t in range(num_gates)]

    def build(self, input_shape):
        for layer in self.experts + self.gates:
            layer.build(input_shape)

    def call(self, inputs, training=None):
        experts = ops.stack([e(inputs, training=training) for e in self.experts], axis=1)
        mixes = [mix(experts, g(inputs, training=training)) for g in self.gates]
        return mixes * self.num_tasks if self.share_gate else mixes

    def get_config(self):
        return {
            **super().get_config(),
            "num_tasks": self.num_tasks,
            "num_expert": self.num_expert,
            "expert_mlp": self.expert_mlp,
            "gate_mlp": self.gate_mlp,
            "share_gate": self.share_gate,
        }


def mix(experts, weights):
    """Weighted sum of stacked experts [batch, n, dim] by gate weights [batch, n]."""
    return ops.einsum("bnd,bn->bd", experts, weights)


@keras.saving.register_keras_serializable(package="easymtl")
class _Gate(keras.layers.Layer):
    """Softmax over `num_choices`, on an optional MLP of the input."""

    def __init__(self, num_choices: int, mlp: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_choices = num_choices
        self.mlp_kwargs = dict(mlp) if mlp else None
        self.mlp = MLP(**self.mlp_kwargs, name="mlp") if mlp else None
        self.logits = keras.layers.Dense(num_choices, name="logits")

    def build(self, input_shape):
        shape = tuple(input_shape)
        if self.mlp is not None:
            self.mlp.build(shape)
            shape = self.mlp.compute_output_shape(shape)
        self.logits.build(shape)

    def call(self, inputs, training=None):
        x = self.mlp(inputs, training=training) if self.mlp is not None else inputs
        return ops.softmax(self.logits(x), axis=-1)

    def get_config(self):
        return {**super().get_config(), "num_choices": self.num_choices, "mlp": self.mlp_kwargs}
