"""One level of Progressive Layered Extraction (Tang et al., RecSys 2020)."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.mlp import MLP
from easymtl.layers.mmoe import _Gate, mix


@keras.saving.register_keras_serializable(package="easymtl")
class ExtractionNetwork(keras.layers.Layer):
    """Task-specific and shared experts, mixed per task by a gate (a CGC level).

    Task k's gate mixes task k's own experts and the shared experts. A non-final level
    also has a shared gate over all experts, whose mix feeds the next level's shared
    experts.

    Args:
        num_tasks: Number of tasks.
        expert_num_per_task: Task-specific experts per task.
        share_num: Shared experts (may be 0).
        task_expert_mlp: Keyword arguments of each task expert's :class:`MLP`.
        share_expert_mlp: Keyword arguments of each shared expert's :class:`MLP`;
            default: `task_expert_mlp`.
        is_final: Whether this is the last level (no shared gate, no shared output).
        gate_temperature: Temperature of every gate's softmax (see
            :class:`~easymtl.layers.mmoe.MMoE`).
        gate_dropout_ratio: Probability, in training, of leaving an expert out of a
            row's gate (see :class:`~easymtl.layers.mmoe.MMoE`).

    Call takes a list of `num_tasks + 1` inputs (one per task, then the shared one) and
    returns `num_tasks` outputs, plus the shared output unless `is_final`; with
    ``return_gates=True``, also the gates' weights, in the order of :meth:`gate_specs`.

    Example:
        >>> level = ExtractionNetwork(2, 1, 1, {"hidden_units": [8]}, is_final=True)
        >>> x = keras.ops.ones((3, 4))
        >>> [t.shape for t in level([x, x, x])]
        [(3, 8), (3, 8)]
    """

    def __init__(
        self,
        num_tasks: int,
        expert_num_per_task: int,
        share_num: int,
        task_expert_mlp: dict,
        share_expert_mlp: dict | None = None,
        is_final: bool = True,
        gate_temperature: float = 1.0,
        gate_dropout_ratio: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_tasks <= 0:
            raise ValueError(f"`num_tasks` must be positive. Received: {num_tasks}")
        if expert_num_per_task <= 0:
            raise ValueError(
                f"`expert_num_per_task` must be positive. Received: {expert_num_per_task}"
            )
        if share_num < 0:
            raise ValueError(f"`share_num` must not be negative. Received: {share_num}")
        self.num_tasks = num_tasks
        self.expert_num_per_task = expert_num_per_task
        self.share_num = share_num
        self.task_expert_mlp = dict(task_expert_mlp)
        self.share_expert_mlp = dict(share_expert_mlp or task_expert_mlp)
        task_units = self.task_expert_mlp["hidden_units"][-1]
        share_units = self.share_expert_mlp["hidden_units"][-1]
        if share_num and task_units != share_units:
            raise ValueError(
                "Task and shared experts are mixed by one gate, so their last hidden_units "
                f"must be equal. Received: {task_units} and {share_units}"
            )
        self.is_final = is_final
        # One flat list (task t's experts at [t * expert_num_per_task, ...]): Keras and
        # TensorFlow track the variables of layers in a list, not in a list of lists.
        self.task_experts = [
            MLP(**self.task_expert_mlp, name=f"task{t}_expert_{i}")
            for t in range(num_tasks)
            for i in range(expert_num_per_task)
        ]
        self.share_experts = [
            MLP(**self.share_expert_mlp, name=f"share_expert_{i}") for i in range(share_num)
        ]
        self.gate_temperature = float(gate_temperature)
        self.gate_dropout_ratio = float(gate_dropout_ratio)
        gate = {"temperature": self.gate_temperature, "dropout_ratio": self.gate_dropout_ratio}
        self.task_gates = [
            _Gate(expert_num_per_task + share_num, name=f"task{t}_gate", **gate)
            for t in range(num_tasks)
        ]
        self.share_gate = (
            None
            if is_final
            else _Gate(num_tasks * expert_num_per_task + share_num, name="share_gate", **gate)
        )

    def build(self, input_shape):
        *task_shapes, share_shape = [tuple(s) for s in input_shape]
        for shape, experts, gate in zip(task_shapes, self._experts_by_task(), self.task_gates):
            for expert in experts:
                expert.build(shape)
            gate.build(shape)
        for expert in self.share_experts:
            expert.build(share_shape)
        if self.share_gate is not None:
            self.share_gate.build(share_shape)

    def _experts_by_task(self) -> list[list[MLP]]:
        n = self.expert_num_per_task
        return [self.task_experts[t * n : (t + 1) * n] for t in range(self.num_tasks)]

    def call(self, inputs, training=None, return_gates=False):
        *task_inputs, share_input = inputs
        shared = [e(share_input, training=training) for e in self.share_experts]
        task_outs = [
            [e(x, training=training) for e in experts]
            for x, experts in zip(task_inputs, self._experts_by_task())
        ]
        weights = [gate(x, training=training) for x, gate in zip(task_inputs, self.task_gates)]
        outputs = [mix(ops.stack(own + shared, axis=1), w) for own, w in zip(task_outs, weights)]
        if self.share_gate is not None:
            every = [e for own in task_outs for e in own] + shared
            weights.append(self.share_gate(share_input, training=training))
            outputs.append(mix(ops.stack(every, axis=1), weights[-1]))
        return (outputs, weights) if return_gates else outputs

    def gate_specs(self, level: str | None = None) -> list[tuple[str, int | None, list[str]]]:
        """``(level, task, experts)`` of each gate, in the order ``call`` returns their
        weights: the level (`level`, default this layer's name), the task index (None for
        the shared gate) and the names of the experts it weighs."""
        level = level or self.name
        shared = [e.name for e in self.share_experts]
        specs = [
            (level, t, [e.name for e in own] + shared)
            for t, own in enumerate(self._experts_by_task())
        ]
        if self.share_gate is not None:
            specs.append((level, None, [e.name for e in self.task_experts] + shared))
        return specs

    def get_config(self):
        return {
            **super().get_config(),
            "num_tasks": self.num_tasks,
            "expert_num_per_task": self.expert_num_per_task,
            "share_num": self.share_num,
            "task_expert_mlp": self.task_expert_mlp,
            "share_expert_mlp": self.share_expert_mlp,
            "is_final": self.is_final,
            "gate_temperature": self.gate_temperature,
            "gate_dropout_ratio": self.gate_dropout_ratio,
        }


@keras.saving.register_keras_serializable(package="easymtl")
class PLE(keras.layers.Layer):
    """Progressive Layered Extraction: a stack of :class:`ExtractionNetwork` levels.

    Args:
        num_tasks: Number of tasks.
        levels: Keyword arguments of each level (`expert_num_per_task`, `share_num`,
            `task_expert_mlp`, `share_expert_mlp`, and optionally `gate_temperature`,
            `gate_dropout_ratio`), bottom to top.
        level_names: A name per level for the gate diagnostics (the config's
            `network_name`); default ``level_<i>``.

    Call takes one tensor (the input of every task and of the shared experts) and
    returns `num_tasks` tensors; with ``return_gates=True``, also every level's gate
    weights, in the order of :meth:`gate_specs`.

    Example:
        >>> ple = PLE(2, [{"expert_num_per_task": 1, "share_num": 1,
        ...                "task_expert_mlp": {"hidden_units": [8]}}])
        >>> [t.shape for t in ple(keras.ops.ones((3, 4)))]
        [(3, 8), (3, 8)]
    """

    def __init__(
        self, num_tasks: int, levels: list[dict], level_names: list[str] | None = None, **kwargs
    ):
        super().__init__(**kwargs)
        if not levels:
            raise ValueError("`levels` must not be empty.")
        if level_names is not None and len(level_names) != len(levels):
            raise ValueError(
                f"`level_names` must name each of the {len(levels)} levels. Received: {level_names}"
            )
        self.num_tasks = num_tasks
        self.levels = [dict(level) for level in levels]
        # Layer names stay level_<i>: they are in the variables' checkpoint paths.
        self.level_names = list(level_names or [f"level_{i}" for i in range(len(levels))])
        self.networks = [
            ExtractionNetwork(num_tasks, **level, is_final=i == len(levels) - 1, name=f"level_{i}")
            for i, level in enumerate(self.levels)
        ]

    def build(self, input_shape):
        shapes = [tuple(input_shape)] * (self.num_tasks + 1)
        for network in self.networks:
            network.build(shapes)
            units = network.task_expert_mlp["hidden_units"][-1]
            shapes = [shapes[0][:-1] + (units,)] * (self.num_tasks + 1)

    def call(self, inputs, training=None, return_gates=False):
        x = [inputs] * (self.num_tasks + 1)
        gates = []
        for network in self.networks:
            x, weights = network(x, training=training, return_gates=True)
            gates += weights
        return (x, gates) if return_gates else x

    def gate_specs(self) -> list[tuple[str, int | None, list[str]]]:
        """``(level, task, experts)`` of each gate of each level, bottom to top (see
        :meth:`ExtractionNetwork.gate_specs`), the levels named by `level_names`."""
        return [
            spec
            for name, network in zip(self.level_names, self.networks)
            for spec in network.gate_specs(name)
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "num_tasks": self.num_tasks,
            "levels": self.levels,
            "level_names": self.level_names,
        }
