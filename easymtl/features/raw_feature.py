"""Numeric features: a dense (optionally normalized) value, or bucketized ids."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

_NORMALIZERS = {
    "log10": {"threshold": 1e-10, "default": -10.0},
    "log1p": {},
    "zscore": {"mean": 0.0, "standard_deviation": 1.0},
    "minmax": {"min": 0.0, "max": 1.0},
}


def parse_normalizer(spec: str) -> dict:
    """Parses ``"method=log10,threshold=1e-10,default=-10"`` into a dict with every key.

    Raises:
        ValueError: an unknown method or key, or a value that is not a number.
    """
    items = dict(kv.split("=", 1) if "=" in kv else (kv, "") for kv in spec.split(",") if kv)
    method = items.pop("method", "").strip()
    if method not in _NORMALIZERS:
        raise ValueError(
            f"unknown normalizer method {method!r}; expected method=" + "|".join(_NORMALIZERS)
        )
    params = dict(_NORMALIZERS[method])
    for key, value in items.items():
        key = key.strip()
        if key not in params:
            raise ValueError(f"normalizer {method} has no parameter {key!r}")
        try:
            params[key] = float(value)
        except ValueError:
            raise ValueError(f"normalizer parameter {key}={value!r} is not a number") from None
    if method == "zscore" and params["standard_deviation"] <= 0:
        raise ValueError("normalizer zscore needs standard_deviation > 0")
    if method == "minmax" and params["max"] <= params["min"]:
        raise ValueError("normalizer minmax needs max > min")
    return {"method": method, **params}


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
