"""The multi-task model: features → backbone → one tower per task."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.embedding import FeatureInputs
from easymtl.layers.fusion import FusedScore
from easymtl.layers.tower import TaskTower, tower_outputs


@keras.saving.register_keras_serializable(package="easymtl")
class MultiTaskModel(keras.Model):
    """Raw input columns in, named per-task outputs out.

    The feature groups are concatenated (in config order) into the backbone's input.
    The backbone returns either one tensor that every tower reads (a shared bottom) or a
    list with one tensor per task (MMoE, PLE); without a backbone, every tower reads the
    feature groups directly.

    Args:
        features: The input layer (raw columns → feature group tensors).
        towers: One :class:`TaskTower` per task, by tower name, in task order.
        backbone: The shared part, or None.
        fusion: The fused ranking score over the outputs (and raw inputs), or None.

    Call returns each tower's outputs by name (see
    :func:`easymtl.layers.tower.tower_outputs`): ``logits_<tower>`` and ``probs_<tower>``
    ([batch], or [batch, num_class] for a multiclass tower), or ``y_<tower>`` [batch] for
    a regression tower; with `fusion`, also ``score`` [batch]. Subclasses with derived
    outputs override :meth:`task_outputs`. With ``return_gates=True``, a gated backbone's
    gate weights are added as ``gate/<name>`` [batch, experts] (see :meth:`gate_names`).
    """

    def __init__(
        self,
        features: FeatureInputs,
        towers: dict[str, TaskTower],
        backbone: keras.layers.Layer | None = None,
        fusion: FusedScore | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not towers:
            raise ValueError("`towers` must not be empty.")
        self.features = features
        self.backbone = backbone
        self.towers = dict(towers)
        self.fusion = fusion

    @property
    def used_inputs(self) -> list[str]:
        """The raw input columns the model reads: the features', then the fusion's."""
        extra = self.fusion.input_names if self.fusion is not None else []
        return list(dict.fromkeys(self.features.used_inputs + extra))

    def call(self, inputs, training=None, return_gates=False):
        outputs = self.task_outputs(inputs, training=training, return_gates=return_gates)
        if self.fusion is not None:
            outputs["score"] = self.fusion(outputs, inputs)
        return outputs

    def gate_names(self) -> list[tuple[str, list[str]]]:
        """``(name, experts)`` of each gate of the backbone: the name is
        ``<level>/<tower>`` (``<level>/shared`` for a gate of no single task) and experts
        names the experts the gate weighs, in order. Empty for an ungated backbone."""
        if not hasattr(self.backbone, "gate_specs"):
            return []
        towers = list(self.towers)
        return [
            (f"{level}/{'shared' if task is None else towers[task]}", experts)
            for level, task, experts in self.backbone.gate_specs()
        ]

    def task_outputs(self, inputs, training=None, return_gates=False) -> dict:
        """The towers' outputs (and a subclass's derived outputs), by name; with
        `return_gates`, also ``gate/<name>`` of each gate."""
        groups = self.features(inputs)
        x = (
            tf.concat(list(groups.values()), axis=-1)
            if len(groups) > 1
            else next(iter(groups.values()))
        )
        outputs = {}
        if self.backbone is None:
            reps = x
        elif return_gates and hasattr(self.backbone, "gate_specs"):
            reps, gates = self.backbone(x, training=training, return_gates=True)
            names = [name for name, _ in self.gate_names()]
            outputs.update({f"gate/{name}": g for name, g in zip(names, gates)})
        else:
            reps = self.backbone(x, training=training)
        if not isinstance(reps, (list, tuple)):
            reps = [reps] * len(self.towers)
        for (name, tower), rep in zip(self.towers.items(), reps):
            outputs.update(tower_outputs(name, tower(rep, training=training), tower.task_type))
        return outputs

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "features": serialize(self.features),
            "towers": {k: serialize(v) for k, v in self.towers.items()},
            "backbone": serialize(self.backbone) if self.backbone is not None else None,
            "fusion": serialize(self.fusion) if self.fusion is not None else None,
        }

    @classmethod
    def from_config(cls, config):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        config["features"] = deserialize(config["features"])
        config["towers"] = {k: deserialize(v) for k, v in config["towers"].items()}
        for name in ("backbone", "fusion"):
            if config.get(name) is not None:
                config[name] = deserialize(config[name])
        return cls(**config)
