"""PEPNet's computation (Chang et al., "PEPNet: Parameter and Embedding Personalized
Network for Infusing with Personalized Prior Information", KDD 2023), as TorchEasyRec's
``pepnet``: gate units that scale the embeddings per domain (EPNet) and each hidden layer
of each task per user, item and author (PPNet), and optional per-domain task towers."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from easymtl.activations import activation_name
from easymtl.layers.tower import TaskTower, tower_outputs
from easymtl.models.model import MultiTaskModel, _float32


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


MAIN, DOMAIN, UIA = "all", "domain", "uia"


@keras.saving.register_keras_serializable(package="easymtl")
class PEPNetModel(MultiTaskModel):
    """A :class:`MultiTaskModel` whose backbone is :class:`PEPNet` over the feature groups
    named "all" (required), "domain" (EPNet) and "uia" (PPNet), as TorchEasyRec's. WIDE
    groups add their first-order terms to every tower's logits, as in MultiTaskModel.

    With `domain_input_name`, each task has `task_domain_num` towers (``towers`` holds
    domain 0's, `domain_towers` the others): the outputs are TorchEasyRec's
    ``logits_<tower>_<d>`` / ``probs_<tower>_<d>`` of every domain d, and ``logits_<tower>``
    / ``probs_<tower>`` of the row's own domain (the integer input column
    `domain_input_name`, in [0, task_domain_num)), which the losses and metrics read, as
    TorchEasyRec selects them.

    Args:
        features, towers, backbone, fusion: As MultiTaskModel's.
        domain_input_name: The input column of a row's domain, or None.
        task_domain_num: Domains (towers per task).
        domain_towers: Towers of domains 1..task_domain_num - 1, per tower name.
    """

    def __init__(
        self,
        features,
        towers,
        backbone=None,
        fusion=None,
        domain_input_name: str | None = None,
        task_domain_num: int = 1,
        domain_towers: dict | None = None,
        **kwargs,
    ):
        super().__init__(features, towers, backbone, fusion, **kwargs)
        if not isinstance(backbone, PEPNet):
            raise ValueError(f"`backbone` must be a PEPNet. Received: {type(backbone)}")
        if MAIN not in features.groups:
            raise ValueError(
                f'PEPNet reads the feature group "{MAIN}". Received: {list(features.groups)}'
            )
        if task_domain_num <= 0:
            raise ValueError(f"`task_domain_num` must be positive. Received: {task_domain_num}")
        self.domain_input_name = domain_input_name
        self.task_domain_num = int(task_domain_num)
        self.domain_towers = {k: list(v) for k, v in (domain_towers or {}).items()}
        if domain_input_name is not None:
            for name in self.towers:
                if len(self.domain_towers.get(name, [])) != task_domain_num - 1:
                    raise ValueError(
                        f"`domain_towers` must hold {task_domain_num - 1} towers of {name!r}."
                    )

    @property
    def used_inputs(self) -> list[str]:
        extra = [self.domain_input_name] if self.domain_input_name else []
        return list(dict.fromkeys(super().used_inputs + extra))

    def task_outputs(self, inputs, training=None, return_gates=False):
        groups = self.features(inputs)
        wide_logits = self._wide_logits([groups.pop(n) for n in self.features.wide_groups])
        reps = self.backbone(groups[MAIN], groups.get(DOMAIN), groups.get(UIA), training=training)
        outputs = {}
        domain = None
        if self.domain_input_name is not None:
            domain = inputs[self.domain_input_name]
            if domain.dtype == tf.string:
                domain = tf.strings.to_number(domain, tf.int32)
            domain = tf.cast(domain, tf.int32)
            tf.debugging.assert_less(
                domain,
                self.task_domain_num,
                message=f"{self.domain_input_name}: a domain at or above task_domain_num",
            )
            tf.debugging.assert_non_negative(
                domain, message=f"{self.domain_input_name}: a negative domain"
            )
        for i, ((name, tower), rep) in enumerate(zip(self.towers.items(), reps)):
            wide = wide_logits[i] if wide_logits else 0.0
            if domain is None:
                logits = _float32(tower(rep, training=training)) + wide
                outputs.update(tower_outputs(name, logits, tower.task_type))
                continue
            towers = [tower, *self.domain_towers[name]]
            per_domain = [_float32(t(rep, training=training)) + wide for t in towers]
            for d, logits in enumerate(per_domain):
                outputs.update(tower_outputs(f"{name}_{d}", logits, tower.task_type))
            stacked = tf.stack(per_domain, axis=1)
            mine = tf.gather(stacked, domain, axis=1, batch_dims=1)
            outputs.update(tower_outputs(name, mine, tower.task_type))
        return outputs

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "domain_input_name": self.domain_input_name,
            "task_domain_num": self.task_domain_num,
            "domain_towers": {k: [serialize(t) for t in v] for k, v in self.domain_towers.items()},
        }

    @classmethod
    def from_config(cls, config):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        config["domain_towers"] = {
            k: [deserialize(t) for t in v] for k, v in config.get("domain_towers", {}).items()
        }
        return super().from_config.__func__(cls, config)


def build_pepnet_model(features, towers, backbone=None, fusion=None, **kwargs):
    """The :class:`PEPNetModel`: EPNet on where the "domain" group is, PPNet where the
    "uia" group is, and the domain towers copies of each tower (fresh weights).
    `backbone` is the PEPNet the config built, with its ``domain_input_name`` and
    ``task_domain_num``."""
    domain = getattr(backbone, "domain_input_name", None)
    n = getattr(backbone, "task_domain_num", 1)
    backbone = PEPNet.from_config(
        {
            **backbone.get_config(),
            "use_epnet": DOMAIN in features.groups,
            "use_ppnet": UIA in features.groups,
        }
    )
    domain_towers = {}
    if domain:
        domain_towers = {
            name: [
                TaskTower.from_config({**tower.get_config(), "name": f"{tower.name}_{d}"})
                for d in range(1, n)
            ]
            for name, tower in towers.items()
        }
    return PEPNetModel(
        features,
        towers,
        backbone,
        fusion,
        domain_input_name=domain or None,
        task_domain_num=n,
        domain_towers=domain_towers,
        **kwargs,
    )
