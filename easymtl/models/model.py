"""The multi-task model: features → backbone → one tower per task."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features import FeatureInputs
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
    outputs override :meth:`task_outputs`.
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

    def call(self, inputs, training=None):
        outputs = self.task_outputs(inputs, training=training)
        if self.fusion is not None:
            outputs["score"] = self.fusion(outputs, inputs)
        return outputs

    def task_outputs(self, inputs, training=None) -> dict:
        """The towers' outputs (and a subclass's derived outputs), by name."""
        groups = self.features(inputs)
        x = (
            tf.concat(list(groups.values()), axis=-1)
            if len(groups) > 1
            else next(iter(groups.values()))
        )
        reps = x if self.backbone is None else self.backbone(x, training=training)
        if not isinstance(reps, (list, tuple)):
            reps = [reps] * len(self.towers)
        outputs = {}
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
