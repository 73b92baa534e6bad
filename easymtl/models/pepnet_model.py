"""PEPNet's Keras model (TorchEasyRec's PEPNet): the :class:`~easymtl.layers.pepnet.PEPNet`
backbone over the "all", "domain" and "uia" feature groups, and per-domain towers
selected by the row's domain. The config side (check, registration) is
:mod:`easymtl.models.pepnet`."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.layers.pepnet import PEPNet
from easymtl.layers.tower import TaskTower, tower_outputs
from easymtl.models.model import MultiTaskModel, _float32

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

    def task_outputs(self, inputs, training=None, return_gates=False, tiled_inputs=()):
        groups = self.features(inputs, tiled_inputs=tuple(tiled_inputs))
        wide_logits = self._wide_logits([groups.pop(n) for n in self.features.wide_groups])
        reps = self.backbone(groups[MAIN], groups.get(DOMAIN), groups.get(UIA), training=training)
        outputs = {}
        domain = None
        if self.domain_input_name is not None:
            domain = inputs[self.domain_input_name]
            if self.domain_input_name in tiled_inputs:  # a request's one user: its domain
                domain = tf.repeat(domain, tf.shape(reps[0])[:1], axis=0)
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
