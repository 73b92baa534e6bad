"""Rocket Launching (Zhou et al., AAAI 2018): a light net learns beside a booster net."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import keras
import tensorflow as tf
from keras import ops

from easymtl.layers.mlp import MLP
from easymtl.losses import REGRESSION
from easymtl.tasks import Task
from easymtl.towers import output_name

LIGHT, BOOSTER = "light", "booster"


def hidden_name(net: str, layer: int) -> str:
    """The output key of a net's hidden layer that feature distillation compares."""
    return f"hidden/{net}_{layer}"


def distillation_pairs(light_units: list[int], booster_units: list[int]) -> dict[int, int]:
    """``{light layer i: booster layer j}``: each light layer with the first booster
    layer of its width (TorchEasyRec's pairing)."""
    pairs = {}
    for i, u in enumerate(light_units):
        for j, v in enumerate(booster_units):
            if u == v:
                pairs[i] = j
                break
    return pairs


@keras.saving.register_keras_serializable(package="easymtl")
class RocketLaunching(keras.layers.Layer):
    """A light net and a booster net on one feature group, over an optional shared MLP.
    The light net reads the shared layers through a stop-gradient: only the booster (and
    its losses) trains them.

    Args:
        group: The feature group read.
        booster_mlp: Keyword arguments of the booster's :class:`MLP`.
        light_mlp: Keyword arguments of the light net's :class:`MLP`.
        num_class: Outputs of each net's linear output.
        share_mlp: Keyword arguments of the shared :class:`MLP`, or None.
        feature_based_distillation: Also return the hidden layers that are compared.

    Call takes ``{group: tensor}`` and returns ``{"light": logits}``; in training also
    ``"booster"`` and, with feature_based_distillation, each compared hidden layer
    (:func:`hidden_name`).

    Example:
        >>> layer = RocketLaunching("all", {"hidden_units": [8]}, {"hidden_units": [4]})
        >>> sorted(layer({"all": keras.ops.ones((2, 3))}, training=True))
        ['booster', 'light']
    """

    towers = (LIGHT, BOOSTER)

    def __init__(
        self,
        group: str,
        booster_mlp: dict,
        light_mlp: dict,
        num_class: int = 1,
        share_mlp: dict | None = None,
        feature_based_distillation: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.group = group
        self.booster_kwargs = dict(booster_mlp)
        self.light_kwargs = dict(light_mlp)
        self.num_class = int(num_class)
        self.share_kwargs = dict(share_mlp) if share_mlp else None
        self.feature_based_distillation = bool(feature_based_distillation)
        self.share = MLP(**self.share_kwargs, name="share_mlp") if share_mlp else None
        self.booster = MLP(**self.booster_kwargs, name="booster_mlp")
        self.light = MLP(**self.light_kwargs, name="light_mlp")
        self.booster_output = keras.layers.Dense(self.num_class, name="booster_output")
        self.light_output = keras.layers.Dense(self.num_class, name="light_output")
        self.pairs = distillation_pairs(
            self.light_kwargs["hidden_units"], self.booster_kwargs["hidden_units"]
        )

    def build(self, input_shape):
        shape = tuple(input_shape[self.group])
        if self.share is not None:
            self.share.build(shape)
            shape = self.share.compute_output_shape(shape)
        for mlp, out in ((self.booster, self.booster_output), (self.light, self.light_output)):
            mlp.build(shape)
            out.build(mlp.compute_output_shape(shape))

    def call(self, groups, training=None):
        x = groups[self.group]
        shared = self.share(x, training=training) if self.share is not None else x
        light = self.light.hidden_layers(ops.stop_gradient(shared), training=training)
        outputs = {LIGHT: self.light_output(light[-1])}
        if not training:
            return outputs
        booster = self.booster.hidden_layers(shared, training=training)
        outputs[BOOSTER] = self.booster_output(booster[-1])
        if self.feature_based_distillation:
            for i, j in self.pairs.items():
                outputs[hidden_name(LIGHT, i)] = light[i]
                outputs[hidden_name(BOOSTER, j)] = booster[j]
        return outputs

    def get_config(self):
        return {
            **super().get_config(),
            "group": self.group,
            "booster_mlp": self.booster_kwargs,
            "light_mlp": self.light_kwargs,
            "num_class": self.num_class,
            "share_mlp": self.share_kwargs,
            "feature_based_distillation": self.feature_based_distillation,
        }


def _similarity(kind: str, light, booster, weight):
    """TorchEasyRec's feature distillation loss of one pair of hidden layers; the
    booster's side gets no gradient."""
    booster = tf.stop_gradient(booster)
    if kind == "COSINE":
        products = tf.reduce_sum(
            tf.math.l2_normalize(booster, axis=1) * tf.math.l2_normalize(light, axis=1), axis=1
        )
        if weight is not None:
            products = products * weight
        return -0.1 * tf.reduce_mean(products)
    squares = tf.reduce_sum(tf.square(booster - light), axis=1)
    if weight is not None:
        squares = squares * weight
    return tf.sqrt(tf.reduce_sum(squares))


def rocket_task(task, similarity: str, pairs: dict[int, int]):
    """The light net's :class:`RocketTask` of a plain task named "light"."""
    fields = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)}
    return RocketTask(**fields, similarity=similarity, pairs=dict(pairs))


@dataclass
class RocketTask(Task):
    """The light net's task: its own loss; in training (when the model returned the
    booster's logits) also the booster's loss, the hint loss (the mean square of the
    light logits' distance to the booster's, which get no gradient from it) and,
    with feature-based distillation, each pair's similarity loss. Its metrics score
    the light net, which is what the SavedModel serves.

    Args:
        similarity: "COSINE" or "EUCLID" (feature-based distillation), else "".
        pairs: ``{light layer: booster layer}`` compared.
    """

    similarity: str = ""
    pairs: dict = field(default_factory=dict)

    def loss(self, labels, outputs):
        y = self.label(labels)
        total = self.weighted_loss(y, outputs[self.loss_input_name], labels)
        prefix = "y" if self.task_type == REGRESSION else "logits"
        booster = outputs.get(output_name(prefix, BOOSTER))
        if booster is None:  # evaluation: the light net alone, as TorchEasyRec
            return total
        total += self.weighted_loss(y, booster, labels)
        weight = self.loss_weights(labels)
        light = outputs[self.loss_input_name]
        hint = tf.square(light - tf.stop_gradient(booster))
        if len(hint.shape) > 1:
            hint = tf.reduce_mean(hint, axis=-1)
        total += tf.reduce_mean(hint if weight is None else hint * weight)
        if self.similarity:
            for i, j in self.pairs.items():
                total += _similarity(
                    self.similarity,
                    outputs[hidden_name(LIGHT, i)],
                    outputs[hidden_name(BOOSTER, j)],
                    weight,
                )
        return total
