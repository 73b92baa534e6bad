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
    feature groups directly. The WIDE groups are not in the backbone's input: their sum,
    [batch, sum of the towers' num_class], is added to the towers' logits, each tower
    its own columns in tower order (see :mod:`easymtl.features.wide`).

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
    A backbone with ``group_inputs`` (names of feature groups) reads those groups' tensors
    as a list instead of the concatenation. With `l2_regularization`, training adds
    ``l2_regularization x`` the sum of squares of the backbone's and towers' kernels to
    :attr:`losses` (EasyRec's l2_regularization, halved: see the ModelConfig field).
    """

    def __init__(
        self,
        features: FeatureInputs,
        towers: dict[str, TaskTower],
        backbone: keras.layers.Layer | None = None,
        fusion: FusedScore | None = None,
        l2_regularization: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.l2_regularization = checked_l2(l2_regularization)
        if not towers:
            raise ValueError("`towers` must not be empty.")
        self.features = features
        self.backbone = backbone
        self.towers = dict(towers)
        self.fusion = fusion
        widths = sum(t.num_class for t in self.towers.values())
        if features.wide_groups and features.wide_dim != widths:
            raise ValueError(
                f"`features.wide_dim` must be the towers' outputs together ({widths}). "
                f"Received: {features.wide_dim}"
            )

    def build(self, input_shape=None):
        """Nothing to do here: each layer builds its own variables at its first call.

        Without a build of its own, Keras would first call the whole model on symbolic
        inputs in a scratch graph, a trace of every op of the model made only to build
        it (3.7 of the 33 s of a 12-step PLE run, tracing and export included)."""

    @property
    def used_inputs(self) -> list[str]:
        """The raw input columns the model reads: the features', then the fusion's."""
        extra = self.fusion.input_names if self.fusion is not None else []
        return list(dict.fromkeys(self.features.used_inputs + extra))

    def call(self, inputs, training=None, return_gates=False, tiled_inputs=()):
        """The outputs of raw `inputs`; `tiled_inputs` names columns that hold one row
        for the whole batch (a request's user side), computed once where a feature reads
        only them (see :meth:`FeatureInputs.call`)."""
        outputs = self.task_outputs(
            inputs, training=training, return_gates=return_gates, tiled_inputs=tiled_inputs
        )
        if training and self.l2_regularization:
            self.add_loss(self.l2_regularization * self._kernel_squares())
        if self.fusion is not None:
            if tiled_inputs:
                rows = tf.shape(next(iter(outputs.values())))[:1]
                inputs = {
                    c: tf.repeat(v, rows, axis=0) if c in tiled_inputs else v
                    for c, v in inputs.items()
                }
            outputs["score"] = self.fusion(outputs, inputs)
        return outputs

    def _kernel_squares(self):
        """The sum of squares of the backbone's and the towers' Dense kernels."""
        layers = [self.backbone, *self.towers.values()] if self.backbone else self.towers.values()
        kernels = [v for layer in layers for v in layer.trainable_variables if v.name == "kernel"]
        return tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels])

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

    def task_outputs(self, inputs, training=None, return_gates=False, tiled_inputs=()) -> dict:
        """The towers' outputs (and a subclass's derived outputs), by name; with
        `return_gates`, also ``gate/<name>`` of each gate."""
        groups = self.features(inputs, tiled_inputs=tuple(tiled_inputs))
        wide = [groups.pop(name) for name in self.features.wide_groups]
        if not groups:
            # Only WIDE groups: the towers read one zero column, so that each head is its
            # bias alone (a zero-width input is not a matmul oneDNN can run).
            x = tf.zeros(tf.stack([tf.shape(wide[0])[0], 1]), wide[0].dtype)
        elif len(groups) > 1:
            x = tf.concat(list(groups.values()), axis=-1)
        else:
            x = next(iter(groups.values()))
        outputs = {}
        if getattr(self.backbone, "group_inputs", None):
            x = [groups[name] for name in self.backbone.group_inputs]
        if self.backbone is None:
            reps = x
        elif return_gates and hasattr(self.backbone, "gate_specs"):
            reps, gates = self.backbone(x, training=training, return_gates=True)
            names = [name for name, _ in self.gate_names()]
            outputs.update({f"gate/{name}": _float32(g) for name, g in zip(names, gates)})
        else:
            reps = self.backbone(x, training=training)
        if not isinstance(reps, (list, tuple)):
            reps = [reps] * len(self.towers)
        wide_logits = self._wide_logits(wide)
        for (name, tower), rep in zip(self.towers.items(), reps):
            # float32 whatever the towers compute in (mixed_precision).
            logits = _float32(tower(rep, training=training))
            if wide_logits:
                logits = logits + wide_logits.pop(0)
            outputs.update(tower_outputs(name, logits, tower.task_type))
        return outputs

    def _wide_logits(self, wide: list) -> list:
        """Each tower's columns of the WIDE groups' sum (squeezed for one output), in
        tower order; empty without WIDE groups."""
        if not wide:
            return []
        total = tf.add_n(wide) if len(wide) > 1 else wide[0]
        widths = [t.num_class for t in self.towers.values()]
        parts = tf.split(total, widths, axis=-1) if len(widths) > 1 else [total]
        return [p[:, 0] if n == 1 else p for p, n in zip(parts, widths)]

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "features": serialize(self.features),
            "towers": {k: serialize(v) for k, v in self.towers.items()},
            "backbone": serialize(self.backbone) if self.backbone is not None else None,
            "fusion": serialize(self.fusion) if self.fusion is not None else None,
            "l2_regularization": self.l2_regularization,
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


def _float32(x):
    return x if x.dtype == tf.float32 else tf.cast(x, tf.float32)


def checked_l2(l2_regularization: float) -> float:
    """`l2_regularization` as a float: a model's L2 penalty on its Dense kernels, a finite
    number >= 0 (0: none)."""
    if not 0 <= l2_regularization < float("inf"):
        raise ValueError(
            f"`l2_regularization` must be a finite number >= 0. Received: {l2_regularization}"
        )
    return float(l2_regularization)
