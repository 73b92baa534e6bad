"""The single-task ranker's Keras model: features → ranker → TorchEasyRec-named outputs."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.embedding import FeatureInputs
from easymtl.layers.tower import tower_outputs
from easymtl.models.model import checked_l2


@keras.saving.register_keras_serializable(package="easymtl")
class RankModel(keras.Model):
    """Raw input columns in, a ranker's outputs out.

    The ranker reads the feature groups by name (``{group: [batch, width]}``; a WIDE
    group it reads is its features' wide embeddings, concatenated) and returns its
    logits by tower: ``""`` for a ranker's one task, or the names it declares
    (rocket_launching's "light", and "booster" in training), each [batch, num_class];
    other keys it returns (hidden layers a training loss compares) pass through. The
    WIDE groups listed in `added_wide` are first-order terms: summed per class and added
    to every tower's logits. With `l2_regularization`, training adds
    ``l2_regularization x`` the sum of squares of the ranker's Dense kernels to
    :attr:`losses` (as :class:`~easymtl.models.model.MultiTaskModel`).

    Args:
        features: The input layer (raw columns → feature group tensors).
        ranker: A layer ``(groups, training) -> {tower: logits}``.
        towers: ``{tower: [task type, num_class]}`` of the towers the ranker may return.
        added_wide: WIDE groups added to the logits (each [batch, features x num_class]).
        l2_regularization: L2 penalty on the ranker's kernels (0: none).

    Call returns each tower's outputs as :func:`easymtl.layers.tower.tower_outputs` names
    them: ``logits``, ``probs`` (``probs1`` with two classes) or ``y`` for the task "",
    ``logits_light``, ... for a named tower.
    """

    def __init__(
        self,
        features: FeatureInputs,
        ranker: keras.layers.Layer,
        towers: dict[str, list],
        added_wide: list[str] | None = None,
        l2_regularization: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.l2_regularization = checked_l2(l2_regularization)
        if not towers:
            raise ValueError("`towers` must not be empty.")
        self.features = features
        self.ranker = ranker
        self.towers_spec = {k: list(v) for k, v in towers.items()}
        self.added_wide = list(added_wide or [])
        unknown = [g for g in self.added_wide if g not in features.wide_groups]
        if unknown:
            raise ValueError(f"`added_wide` names groups that are not WIDE: {unknown}")

    def build(self, input_shape=None):
        """Nothing to do here: each layer builds its own variables at its first call (as
        :meth:`MultiTaskModel.build <easymtl.models.model.MultiTaskModel.build>`: no trace
        of the whole model on symbolic inputs only to build it)."""

    @property
    def used_inputs(self) -> list[str]:
        """The raw input columns the model reads."""
        return self.features.used_inputs

    def gate_names(self) -> list:
        """A ranker has no gates (see MultiTaskModel.gate_names)."""
        return []

    def call(self, inputs, training=None, return_gates=False, tiled_inputs=()):
        """The towers' outputs of raw `inputs`; `tiled_inputs` names columns that hold one
        row for the whole batch (a request's user side, export_config.input_tile 3): see
        :meth:`FeatureInputs.call`."""
        groups = self.features(inputs, training=training, tiled_inputs=tuple(tiled_inputs))
        wide = [groups.pop(g) for g in self.added_wide]
        logits = self.ranker(groups, training=training)
        if training and self.l2_regularization:
            kernels = [v for v in self.ranker.trainable_variables if v.name == "kernel"]
            if kernels:
                squares = tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels])
                self.add_loss(self.l2_regularization * squares)
        first_order = None
        if wide:
            terms = [tf.reduce_sum(_per_feature(w, self.towers_spec), axis=1) for w in wide]
            first_order = tf.add_n(terms) if len(terms) > 1 else terms[0]
        outputs = {}
        for name, value in logits.items():
            if name not in self.towers_spec:
                outputs[name] = value
                continue
            task_type, num_class = self.towers_spec[name]
            value = tf.cast(value, tf.float32)  # a bfloat16 ranker's (mixed_precision)
            if first_order is not None:
                value = value + first_order
            if num_class == 1:
                value = tf.squeeze(value, axis=-1)
            outputs.update(tower_outputs(name, value, task_type))
        return outputs

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "features": serialize(self.features),
            "ranker": serialize(self.ranker),
            "towers": self.towers_spec,
            "added_wide": self.added_wide,
            "l2_regularization": self.l2_regularization,
        }

    @classmethod
    def from_config(cls, config):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        config["features"] = deserialize(config["features"])
        config["ranker"] = deserialize(config["ranker"])
        return cls(**config)


def _per_feature(wide, towers: dict) -> tf.Tensor:
    """[batch, features, num_class] of a WIDE group's concatenated terms."""
    num_class = next(iter(towers.values()))[1]
    return tf.reshape(wide, [-1, wide.shape[-1] // num_class, num_class])


def build_rank_model(model_config, feature_configs, policy: str | None = None) -> RankModel:
    """The :class:`RankModel` of a ranker's `model_config` (checked by config validation);
    its ranker in the Keras dtype `policy` (mixed_precision's, None: float32)."""
    from easymtl.features import build_feature_inputs
    from easymtl.models import MODELS, model_feature_groups, model_towers
    from easymtl.models.rank import RANK_PATH, WIDE, group_infos, wide_initializer
    from easymtl.towers import tower_task_type

    kind = model_config.WhichOneof("model")
    entry = MODELS.entry(kind)
    msg = getattr(model_config, kind)
    feature_groups = model_feature_groups(model_config)
    groups = group_infos(model_config, feature_configs, feature_groups)
    num_class = model_config.num_class
    reads_wide = entry.wide_dim is not None
    features = build_feature_inputs(
        feature_configs,
        feature_groups,
        wide_dim=entry.wide_dim(msg) if reads_wide else num_class,
        embedding_regularization=model_config.embedding_regularization,
        variational_dropout=(
            model_config.variational_dropout
            if model_config.HasField("variational_dropout")
            else None
        ),
        wide_concat=True,
        wide_initializer=(
            wide_initializer(
                msg.wide_init_fn,
                f"{RANK_PATH}.{kind}.wide_init_fn",
                unset=None if entry.wide_fields else "zeros",
            )
            if reads_wide
            else "zeros"
        ),
    )
    from easymtl.precision import dtype_policy

    with dtype_policy(policy):
        ranker = entry.builder(msg, groups, num_class)
    ((path, tower),) = model_towers(model_config)
    task_type = tower_task_type(tower, path)
    towers = {name: [task_type, num_class] for name in getattr(ranker, "towers", [""])}
    added = [
        g.group_name
        for g in feature_groups
        if g.group_type == WIDE and not (reads_wide and g.group_name == "wide")
    ]
    return RankModel(features, ranker, towers, added, model_config.l2_regularization, name=kind)
