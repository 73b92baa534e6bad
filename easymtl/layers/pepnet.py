"""PEPNet's computation (Chang et al., "PEPNet: Parameter and Embedding Personalized
Network for Infusing with Personalized Prior Information", KDD 2023), as TorchEasyRec's
``pepnet``: gate units that scale the embeddings per domain (EPNet) and each hidden layer
of each task per user, item and author (PPNet), and optional per-domain task towers."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.activations import activation_name


@keras.saving.register_keras_serializable(package="easymtl")
class GateNU(keras.layers.Layer):
    """Gate neural unit: ``gamma × sigmoid(Dense(ReLU(Dense(x))))``, values in (0, gamma).

    Args:
        hidden_dim: Units of the hidden layer.
        output_dim: Units of the gate.
        gamma: Scale of the gate (2: the gate can double or silence a unit).

    Example:
        >>> GateNU(4, 3)(keras.ops.ones((2, 5))).shape
        (2, 3)
    """

    def __init__(self, hidden_dim: int, output_dim: int, gamma: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("hidden_dim", hidden_dim), ("output_dim", output_dim)):
            if value <= 0:
                raise ValueError(f"`{name}` must be positive. Received: {value}")
        self.hidden_dim, self.output_dim, self.gamma = hidden_dim, output_dim, float(gamma)
        self.hidden = keras.layers.Dense(hidden_dim, activation="relu", name="hidden")
        self.gate = keras.layers.Dense(output_dim, activation="sigmoid", name="gate")

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.gate.build((*input_shape[:-1], self.hidden_dim))

    def call(self, x):
        return self.gamma * self.gate(self.hidden(x))

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "output_dim": self.output_dim,
            "gamma": self.gamma,
        }


@keras.saving.register_keras_serializable(package="easymtl")
class PEPNet(keras.layers.Layer):
    """EPNet over the main features, then PPNet's per-task gated MLPs.

    Call ``(main, domain, uia)`` ([batch, d] tensors; `domain`, `uia` may be None):

    - EPNet (with `domain`): ``main × GateNU([domain, stop_gradient(main)])``, the gate
      as wide as `main` with ``epnet_hidden_unit`` hidden units (default: main's width).
    - PPNet (with `uia`): per task, an MLP over EPNet's output whose every hidden layer's
      activations are multiplied by a GateNU of ``[uia, stop_gradient(main)]`` before
      its dropout. Without `uia` every task reads EPNet's output.

    Returns one tensor per task (the same one for every task without `uia`).

    Args:
        num_tasks: Number of task towers.
        ppnet_hidden_units: PPNet's hidden units (needed with `uia`).
        ppnet_activation: Its activation (Keras or TorchEasyRec name).
        ppnet_dropout_ratio: One ratio, or one per hidden layer, or none.
        epnet_hidden_unit: EPNet's gate's hidden units (None: main's width).
        epnet_gamma, ppnet_gamma: The gates' scales.
        use_epnet, use_ppnet: Whether `domain` and `uia` are given (the "domain" and
            "uia" feature groups exist).
    """

    def __init__(
        self,
        num_tasks: int,
        ppnet_hidden_units: list[int] | None = None,
        ppnet_activation: str = "relu",
        ppnet_dropout_ratio: list[float] | None = None,
        epnet_hidden_unit: int | None = None,
        epnet_gamma: float = 2.0,
        ppnet_gamma: float = 2.0,
        use_epnet: bool = False,
        use_ppnet: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        units = list(ppnet_hidden_units or [])
        if num_tasks <= 0:
            raise ValueError(f"`num_tasks` must be positive. Received: {num_tasks}")
        if use_ppnet and not units:
            raise ValueError("`ppnet_hidden_units` must not be empty with `use_ppnet`.")
        ratios = list(ppnet_dropout_ratio or [])
        if len(ratios) not in (0, 1, len(units)):
            raise ValueError(
                f"`ppnet_dropout_ratio` must have 0, 1 or {len(units)} values. Received: {ratios}"
            )
        self.num_tasks = num_tasks
        self.ppnet_hidden_units = units
        self.ppnet_activation = activation_name(ppnet_activation)
        self.ppnet_dropout_ratio = ratios
        self.epnet_hidden_unit = epnet_hidden_unit
        self.epnet_gamma, self.ppnet_gamma = float(epnet_gamma), float(ppnet_gamma)
        self.use_epnet, self.use_ppnet = bool(use_epnet), bool(use_ppnet)
        drop = ratios * len(units) if len(ratios) == 1 else ratios or [0.0] * len(units)
        self.dense = [
            [keras.layers.Dense(u, name=f"task{t}_dense_{i}") for i, u in enumerate(units)]
            for t in range(num_tasks if use_ppnet else 0)
        ]
        self.gates = [
            [GateNU(u, u, ppnet_gamma, name=f"task{t}_gate_{i}") for i, u in enumerate(units)]
            for t in range(num_tasks if use_ppnet else 0)
        ]
        self.dropouts = [
            [keras.layers.Dropout(r, name=f"task{t}_dropout_{i}") for i, r in enumerate(drop)]
            for t in range(num_tasks if use_ppnet else 0)
        ]
        self.activation = keras.activations.get(self.ppnet_activation)
        self.epnet = None

    def build(self, main_shape, domain_shape=None, uia_shape=None):
        width = main_shape[-1]
        if self.use_epnet:
            hidden = self.epnet_hidden_unit or width
            self.epnet = GateNU(hidden, width, self.epnet_gamma, name="epnet")
            self.epnet.build((None, domain_shape[-1] + width))
        for dense, gates in zip(self.dense, self.gates):
            inputs = width
            for layer, gate in zip(dense, gates):
                layer.build((None, inputs))
                gate.build((None, uia_shape[-1] + width))
                inputs = layer.units

    def call(self, main, domain=None, uia=None, training=None):
        x = main
        if self.use_epnet:
            x = main * self.epnet(ops.concatenate([domain, ops.stop_gradient(main)], axis=-1))
        if not self.use_ppnet:
            return [x] * self.num_tasks
        gate_input = ops.concatenate([uia, ops.stop_gradient(main)], axis=-1)
        outputs = []
        for dense, gates, dropouts in zip(self.dense, self.gates, self.dropouts):
            h = x
            for layer, gate, dropout in zip(dense, gates, dropouts):
                h = self.activation(layer(h)) * gate(gate_input)
                h = dropout(h, training=training)
            outputs.append(h)
        return outputs

    def get_config(self):
        return {
            **super().get_config(),
            "num_tasks": self.num_tasks,
            "ppnet_hidden_units": self.ppnet_hidden_units,
            "ppnet_activation": self.ppnet_activation,
            "ppnet_dropout_ratio": self.ppnet_dropout_ratio,
            "epnet_hidden_unit": self.epnet_hidden_unit,
            "epnet_gamma": self.epnet_gamma,
            "ppnet_gamma": self.ppnet_gamma,
            "use_epnet": self.use_epnet,
            "use_ppnet": self.use_ppnet,
        }
