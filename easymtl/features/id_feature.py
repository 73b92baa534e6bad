"""Categorical features: raw ids (strings or ints) → ragged int64 embedding row ids."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.zch import KEYS, zch_args


@keras.saving.register_keras_serializable(package="easymtl")
class IdFeature(keras.layers.Layer):
    """Turns a raw id column into ragged embedding row ids, one list per example.

    Exactly one of `hash_bucket_size`, `num_buckets`, `vocab_list`, `zch` says how a
    value becomes a row id; with `zch` it becomes a 64-bit key (its fingerprint), which
    the feature's :class:`~easymtl.features.zch.ZchEmbeddingTable` maps to a row. With
    a `separator`, a value holds several ids (a tag list); empty tokens are dropped. A
    list column ([batch, longest list], padded with "", -1 or NaN) holds several ids per
    example as it is: its values are the ids, without splitting, and the padding is
    dropped. An empty value (or list) takes `default_value` when given, else it has no
    ids (its embedding is zeros).

    Args:
        hash_bucket_size: Hash the value (as a string) into this many rows.
        num_buckets: The value is an integer in [0, num_buckets); other values have no id.
        vocab_list: Value at position i → row i + 1; unknown values → row 0.
        separator: Separator of a multi-value string.
        default_value: Value used where the input is empty.
        zch: The arguments of the feature's zero-collision table
            (:class:`~easymtl.features.zch.ZchEmbeddingTable`, ``num_rows`` included).

    Example:
        >>> f = IdFeature(hash_bucket_size=10, separator="|")
        >>> f(tf.constant(["a|b", ""])).row_lengths().numpy()
        array([2, 0])
        >>> f(tf.constant([["a", "b"], ["", ""]])).row_lengths().numpy()
        array([2, 0])
    """

    def __init__(
        self,
        hash_bucket_size: int | None = None,
        num_buckets: int | None = None,
        vocab_list: list[str] | None = None,
        separator: str | None = None,
        default_value: str | None = None,
        zch: dict | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        given = [x is not None for x in (hash_bucket_size, num_buckets, vocab_list, zch)]
        if sum(given) != 1:
            raise ValueError(
                "Exactly one of `hash_bucket_size`, `num_buckets`, `vocab_list`, `zch` is "
                f"needed. Received: {hash_bucket_size}, {num_buckets}, {vocab_list}, {zch}"
            )
        for name, value in (("hash_bucket_size", hash_bucket_size), ("num_buckets", num_buckets)):
            if value is not None and value <= 0:
                raise ValueError(f"`{name}` must be positive. Received: {value}")
        if vocab_list is not None and not vocab_list:
            raise ValueError("`vocab_list` must not be empty.")
        if separator == "":
            raise ValueError("`separator` must not be empty.")
        self.hash_bucket_size = hash_bucket_size
        self.num_buckets = num_buckets
        self.vocab_list = list(vocab_list) if vocab_list is not None else None
        self.separator = separator
        self.default_value = default_value
        self.zch = dict(zch) if zch is not None else None

    @property
    def num_ids(self) -> int:
        """Rows of the embedding table this feature needs."""
        if self.zch is not None:
            return self.zch["num_rows"]
        if self.hash_bucket_size is not None:
            return self.hash_bucket_size
        if self.num_buckets is not None:
            return self.num_buckets
        return len(self.vocab_list) + 1

    def call(self, inputs):
        x = inputs
        if x.shape.rank == 2:
            return self._list_ids(x)
        if x.dtype != tf.string and self.num_buckets is not None and self.separator is None:
            ids = tf.cast(x, tf.int64)
            return _ragged_where(ids, (ids >= 0) & (ids < self.num_buckets))
        if x.dtype != tf.string:
            x = tf.strings.as_string(x)
        if self.default_value is not None:
            x = tf.where(x == "", self.default_value, x)
        if self.separator is not None:
            tokens = tf.strings.split(x, self.separator)
            tokens = tf.ragged.boolean_mask(tokens, tokens != "")
        else:
            tokens = _ragged_where(x, x != "")
        return self._ids(tokens)

    def _list_ids(self, x):
        """Ids of a list column: its values, padding ("", -1 or NaN) dropped."""
        if x.dtype == tf.string:
            keep = x != ""
        elif x.dtype.is_floating:
            keep = tf.logical_not(tf.math.is_nan(x))
        else:
            keep = x != -1
        if x.dtype != tf.string and self.num_buckets is not None and self.default_value is None:
            ids = tf.cast(x, tf.int64)
            return tf.ragged.boolean_mask(ids, keep & (ids >= 0) & (ids < self.num_buckets))
        if x.dtype != tf.string:
            x = tf.strings.as_string(x)
        if self.default_value is not None:
            # An empty list gets one value: default_value in a column put in front.
            empty = tf.logical_not(tf.reduce_any(keep, axis=1, keepdims=True))
            x = tf.concat([tf.fill(tf.shape(empty), self.default_value), x], axis=1)
            keep = tf.concat([empty, keep], axis=1)
        return self._ids(tf.ragged.boolean_mask(x, keep))

    def _ids(self, tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        """Row ids of ragged string tokens."""
        values = tokens.flat_values
        if self.zch is not None:
            return tokens.with_flat_values(tf.strings.to_hash_bucket_fast(values, KEYS))
        if self.hash_bucket_size is not None:
            ids = tf.strings.to_hash_bucket_fast(values, self.hash_bucket_size)
            return tokens.with_flat_values(ids)
        if self.num_buckets is not None:
            # At most 18 digits: longer numbers overflow int64 and have no id anyway.
            valid = tf.strings.regex_full_match(values, r"\s*[+-]?0*[0-9]{1,18}\s*")
            ids = tf.strings.to_number(tf.where(valid, values, "-1"), tf.int64)
            ragged = tokens.with_flat_values(ids)
            return tf.ragged.boolean_mask(ragged, (ragged >= 0) & (ragged < self.num_buckets))
        vocab = tf.constant(self.vocab_list)
        matches = tf.cast(tf.equal(values[:, None], vocab[None, :]), tf.int64)
        # Row 0 is the unknown value: argmax of [0, matches...] is 0 when nothing matches.
        padded = tf.concat([tf.zeros_like(matches[:, :1]), matches], axis=1)
        return tokens.with_flat_values(tf.argmax(padded, axis=1))

    def get_config(self):
        return {
            **super().get_config(),
            "hash_bucket_size": self.hash_bucket_size,
            "num_buckets": self.num_buckets,
            "vocab_list": self.vocab_list,
            "separator": self.separator,
            "default_value": self.default_value,
            "zch": self.zch,
        }


def _ragged_where(values, keep):
    """A [batch, 0 or 1] ragged tensor holding values[i] where keep[i]."""
    return tf.RaggedTensor.from_row_lengths(
        tf.boolean_mask(values, keep), tf.cast(keep, tf.int64), validate=False
    )


def build_id_feature(f) -> tuple[IdFeature, int]:
    """The layer of an IdFeature message, and its embedding dim."""
    layer = IdFeature(
        hash_bucket_size=f.hash_bucket_size if f.HasField("hash_bucket_size") else None,
        num_buckets=f.num_buckets if f.HasField("num_buckets") else None,
        vocab_list=list(f.vocab_list) or None,
        separator=f.separator if f.HasField("separator") else None,
        default_value=f.default_value if f.HasField("default_value") else None,
        zch=zch_args(f.zch) if f.HasField("zch") else None,
        name=f.feature_name,
    )
    return layer, f.embedding_dim
