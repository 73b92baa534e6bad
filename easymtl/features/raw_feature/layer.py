"""Numeric features: a dense (optionally normalized) value, or bucketized ids."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from easymtl.features.base import BuiltFeature, one_feature
from easymtl.features.normalizer import parse_normalizer
from easymtl.features.ragged import from_value_rowids


@keras.saving.register_keras_serializable(package="easymtl")
class RawFeature(keras.layers.Layer):
    """A numeric column as a [batch, value_dim] float (normalized) or, with
    `boundaries`, as ragged bucket ids [batch, value_dim] in [0, len(boundaries)].

    With `value_dim` > 1 a string cell holds `value_dim` numbers joined by `separator`
    (a list column [batch, n] holds them as they are); a cell with fewer is padded with
    `default_value`, one with more is cut (:meth:`cell_checks` finds both in training
    data); an empty cell is `default_value` everywhere.

    Args:
        boundaries: Sorted bucket boundaries; without them the value stays dense.
        normalizer: A normalizer spec (see :func:`parse_normalizer`) for a dense value.
        default_value: Value used where the input is empty or not a number.
        value_dim: Numbers per example.
        separator: Separator of the numbers of a cell (with `value_dim` > 1).

    Example:
        >>> RawFeature(normalizer="method=log1p")(tf.constant([0.0, math.e - 1])).numpy()
        array([[0.], [1.]], dtype=float32)
    """

    def __init__(
        self,
        boundaries: list[float] | None = None,
        normalizer: str | None = None,
        default_value: float = 0.0,
        value_dim: int = 1,
        separator: str = "\x1d",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if value_dim <= 0:
            raise ValueError(f"`value_dim` must be positive. Received: {value_dim}")
        if value_dim > 1 and not separator:
            raise ValueError("`separator` must not be empty.")
        boundaries = [float(b) for b in boundaries or []]
        if boundaries != sorted(set(boundaries)):
            raise ValueError(f"`boundaries` must be strictly increasing. Received: {boundaries}")
        if boundaries and normalizer:
            raise ValueError("`normalizer` applies to dense values only, not with `boundaries`.")
        self.boundaries = boundaries
        self.normalizer = normalizer
        self.normalizer_params = parse_normalizer(normalizer) if normalizer else None
        self.default_value = float(default_value)
        self.value_dim = int(value_dim)
        self.separator = separator

    @property
    def num_ids(self) -> int | None:
        """Rows of the embedding table (with boundaries), else None (a dense value)."""
        return len(self.boundaries) + 1 if self.boundaries else None

    def call(self, inputs):
        x = inputs
        if self.value_dim > 1:
            x = self._values(x)
        elif x.dtype == tf.string:
            x = to_number(x)
        x = tf.cast(x, tf.float32)
        x = tf.where(tf.math.is_finite(x), x, self.default_value)
        if self.boundaries:
            ids = tf.cast(tf.raw_ops.Bucketize(input=x, boundaries=self.boundaries), tf.int64)
            # Each row's value_dim ids, made from their value row ids, which the lookup
            # reads (RaggedTensor.from_tensor would have it derive them: 5x the ops).
            if self.value_dim > 1:
                rows = tf.shape(ids, out_type=tf.int64)[0]
                rowids = tf.repeat(tf.range(rows), self.value_dim)
            else:
                rows = tf.size(ids, out_type=tf.int64)
                rowids = tf.range(rows)
            return from_value_rowids(tf.reshape(ids, [-1]), rowids, rows)
        x = self._normalize(x)
        return x if self.value_dim > 1 else x[:, None]

    def _values(self, x):
        """[batch, value_dim] floats (NaN where a value is missing or not a number)."""
        if x.shape.rank == 2:
            values = to_number(x) if x.dtype == tf.string else tf.cast(x, tf.float32)
            values = values[:, : self.value_dim]
            missing = self.value_dim - tf.shape(values)[1]
            return tf.pad(values, [[0, 0], [0, missing]], constant_values=float("nan"))
        if x.dtype != tf.string:
            x = tf.strings.as_string(x)
        items = tf.strings.split(x, self.separator)
        numbers = items.with_flat_values(to_number(items.flat_values))
        return numbers.to_tensor(float("nan"), shape=[None, self.value_dim])

    def cell_checks(self) -> list[tuple[int, object, str]]:
        """Checks of the raw cells in training data, as ``(input index, fn(cells) ->
        [batch] bool, what is wrong)``: with value_dim > 1, a non-empty string cell
        holds value_dim values."""
        if self.value_dim == 1:
            return []

        def bad(x):
            if x.dtype != tf.string or x.shape.rank != 1:
                return tf.zeros(tf.shape(x)[:1], tf.bool)
            counts = tf.strings.split(x, self.separator).row_lengths()
            return (x != "") & (counts != self.value_dim)

        return [
            (
                0,
                bad,
                f"does not hold {self.value_dim} values joined by {self.separator!r} "
                f"(value_dim of feature {self.name!r})",
            )
        ]

    def _normalize(self, x):
        p = self.normalizer_params
        if p is None:
            return x
        if p["method"] == "log10":
            safe = tf.maximum(x, p["threshold"])
            return tf.where(x > p["threshold"], tf.math.log(safe) / math.log(10.0), p["default"])
        if p["method"] == "expression":
            from easymtl.features.expression import parse
            from easymtl.features.expression_ops import evaluate

            return evaluate(parse(p["expr"]), {"x": x})
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
            "value_dim": self.value_dim,
            "separator": self.separator,
        }


def build_raw_feature(f, feature_configs=None) -> list[BuiltFeature]:
    """The layer of a RawFeature message: embedded with boundaries, else dense."""
    layer = RawFeature(
        boundaries=list(f.boundaries),
        normalizer=f.normalizer if f.HasField("normalizer") else None,
        default_value=float(f.default_value),
        value_dim=f.value_dim,
        separator=f.separator,
        name=f.feature_name,
    )
    return one_feature(f, layer, f.embedding_dim if f.boundaries else None)


def to_number(x: tf.Tensor) -> tf.Tensor:
    """float32 of number strings; NaN where a string is not a number."""
    valid = tf.strings.regex_full_match(
        x, r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*"
    )
    return tf.strings.to_number(tf.where(valid, x, "nan"), tf.float32)
