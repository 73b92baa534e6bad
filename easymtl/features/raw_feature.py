"""Numeric features: a dense (optionally normalized) value, or bucketized ids."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from easymtl.features.normalizer import parse_normalizer


@keras.saving.register_keras_serializable(package="easymtl")
class RawFeature(keras.layers.Layer):
    """A numeric column as a [batch, 1] float (normalized) or, with `boundaries`, as
    ragged bucket ids [batch, 1] in [0, len(boundaries)].

    Args:
        boundaries: Sorted bucket boundaries; without them the value stays dense.
        normalizer: A normalizer spec (see :func:`parse_normalizer`) for a dense value.
        default_value: Value used where the input is empty or not a number.

    Example:
        >>> RawFeature(normalizer="method=log1p")(tf.constant([0.0, math.e - 1])).numpy()
        array([[0.], [1.]], dtype=float32)
    """

    def __init__(
        self,
        boundaries: list[float] | None = None,
        normalizer: str | None = None,
        default_value: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        boundaries = [float(b) for b in boundaries or []]
        if boundaries != sorted(set(boundaries)):
            raise ValueError(f"`boundaries` must be strictly increasing. Received: {boundaries}")
        if boundaries and normalizer:
            raise ValueError("`normalizer` applies to dense values only, not with `boundaries`.")
        self.boundaries = boundaries
        self.normalizer = normalizer
        self.normalizer_params = parse_normalizer(normalizer) if normalizer else None
        self.default_value = float(default_value)

    @property
    def num_ids(self) -> int | None:
        """Rows of the embedding table (with boundaries), else None (a dense value)."""
        return len(self.boundaries) + 1 if self.boundaries else None

    def call(self, inputs):
        x = inputs
        if x.dtype == tf.string:
            valid = tf.strings.regex_full_match(
                x, r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*"
            )
            x = tf.strings.to_number(tf.where(valid, x, "nan"), tf.float32)
        x = tf.cast(x, tf.float32)
        x = tf.where(tf.math.is_finite(x), x, self.default_value)
        if self.boundaries:
            ids = tf.cast(tf.raw_ops.Bucketize(input=x, boundaries=self.boundaries), tf.int64)
            return tf.RaggedTensor.from_tensor(ids[:, None])
        return self._normalize(x)[:, None]

    def _normalize(self, x):
        p = self.normalizer_params
        if p is None:
            return x
        if p["method"] == "log10":
            safe = tf.maximum(x, p["threshold"])
            return tf.where(x > p["threshold"], tf.math.log(safe) / math.log(10.0), p["default"])
        if p["method"] == "log1p":
            return tf.math.log1p(tf.maximum(x, 0.0))
        if p["method"] == "zscore":
            return (x - p["mean"]) / p["standard_deviation"]
        return (x - p["min"]) / (p["max"] - p["min"])

    def get_config(self):
        return {
            **super().get_config(),
            "boundaries": self.boundaries,
            "normalizer": self.normalizer,
            "default_value": self.default_value,
        }


def build_raw_feature(f) -> tuple[RawFeature, int | None]:
    """The layer of a RawFeature message, and its embedding dim (None: a dense value)."""
    layer = RawFeature(
        boundaries=list(f.boundaries),
        normalizer=f.normalizer if f.HasField("normalizer") else None,
        default_value=float(f.default_value),
        name=f.feature_name,
    )
    return layer, (f.embedding_dim if f.boundaries else None)
