"""The values a lookup_feature or match_feature finds in its map → ids or numbers."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.id_feature.layer import IdFeature
from easymtl.features.raw_feature.layer import RawFeature

# A number, as RawFeature parses one.
NUMBER = r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*"


@keras.saving.register_keras_serializable(package="easymtl")
class MapValues(keras.layers.Layer):
    """Turns the values found per example (ragged strings [batch, (found)]) into ids or
    a number.

    With one of `hash_bucket_size`, `num_buckets`, `vocab_list`, `vocab_dict` the values
    are ids (as :class:`IdFeature` maps one value): call returns ragged int64 ids [batch,
    (ids)], every value's id (or with `value_dim` 1 the first one's). Otherwise they are
    numbers (values that are not numbers are left out): those of an example combine by
    `combiner` into one, which :class:`RawFeature` (`boundaries`, `normalizer`) makes a
    dense [batch, 1] float or ragged bucket ids [batch, 1]; with `value_dim` > 1 the first
    value holds `value_dim` numbers joined by `value_separator` ([batch, value_dim]).
    An example that found nothing takes `default_value` (for ids, "" gives no id).

    Args:
        hash_bucket_size, num_buckets, vocab_list, vocab_dict: The values are ids.
        boundaries: Bucket boundaries of the number.
        normalizer: Normalizer of a dense number.
        combiner: "sum", "mean", "min", "max" or "count" (how many values were found).
        default_value: Value of an example that found nothing.
        value_dim: Ids: None or 0 for all, 1 for the first. Numbers: their count.
        value_separator: Separator of the numbers of a value (with value_dim > 1).

    Example:
        >>> values = MapValues(combiner="max")
        >>> values(tf.ragged.constant([["1", "3"], []])).numpy()
        array([[3.], [0.]], dtype=float32)
    """

    def __init__(
        self,
        hash_bucket_size: int | None = None,
        num_buckets: int | None = None,
        vocab_list: list[str] | None = None,
        vocab_dict: dict[str, int] | None = None,
        boundaries: list[float] | None = None,
        normalizer: str | None = None,
        combiner: str = "sum",
        default_value: str = "0",
        value_dim: int | None = None,
        value_separator: str = ",",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if combiner not in ("sum", "mean", "min", "max", "count"):
            raise ValueError(
                f"`combiner` must be sum, mean, min, max or count. Received: {combiner!r}"
            )
        kinds = (hash_bucket_size, num_buckets, vocab_list, vocab_dict)
        self.discrete = any(k is not None for k in kinds)
        if self.discrete and boundaries:
            raise ValueError("`boundaries` apply to numbers, not with ids.")
        self.combiner = combiner
        self.default_value = default_value
        self.value_dim = value_dim
        self.value_separator = value_separator
        if self.discrete:
            self.ids = IdFeature(
                hash_bucket_size=hash_bucket_size,
                num_buckets=num_buckets,
                vocab_list=vocab_list,
                vocab_dict=vocab_dict,
                default_value=default_value or None,
                name="ids",
            )
        else:
            self.numbers = RawFeature(
                boundaries=boundaries,
                normalizer=normalizer,
                default_value=float(default_value),
                value_dim=value_dim or 1,
                name="numbers",
            )

    @property
    def num_ids(self) -> int | None:
        """Rows of the embedding table, or None (a dense number)."""
        return self.ids.num_ids if self.discrete else self.numbers.num_ids

    def build(self, input_shape=None):
        (self.ids if self.discrete else self.numbers).build(None)

    def call(self, found: tf.RaggedTensor):
        if self.discrete:
            return self._ids(found)
        if (self.value_dim or 1) > 1:
            return self._vectors(found)
        valid = tf.strings.regex_full_match(found.flat_values, NUMBER)
        found = tf.ragged.boolean_mask(found, found.with_flat_values(valid))
        numbers = found.with_flat_values(tf.strings.to_number(found.flat_values, tf.float32))
        if self.combiner == "count":
            combined = tf.cast(numbers.row_lengths(), tf.float32)
        else:
            reduce = {
                "sum": tf.reduce_sum,
                "mean": tf.reduce_mean,
                "min": tf.reduce_min,
                "max": tf.reduce_max,
            }[self.combiner]
            combined = reduce(numbers, axis=1)
        combined = tf.where(numbers.row_lengths() > 0, combined, float(self.default_value))
        return self.numbers(combined)

    def _vectors(self, found):
        first = found[:, :1].to_tensor("", shape=[None, 1])[:, 0]
        parts = tf.strings.split(first, self.value_separator)
        return self.numbers(parts.to_tensor("", shape=[None, self.value_dim]))

    def _ids(self, found):
        if self.default_value:
            empty = found.row_lengths() == 0
            default = tf.RaggedTensor.from_row_lengths(
                tf.fill([tf.reduce_sum(tf.cast(empty, tf.int32))], self.default_value),
                tf.cast(empty, tf.int64),
            )
            found = tf.concat([default, found], axis=1)
        if self.value_dim == 1:
            found = found[:, :1]
        # One value has 0 or 1 ids (num_buckets drops what is outside its range).
        per_value = self.ids(found.flat_values)
        return tf.RaggedTensor.from_row_splits(per_value, found.row_splits).merge_dims(1, 2)

    def get_config(self):
        config = {
            **super().get_config(),
            "combiner": self.combiner,
            "default_value": self.default_value,
            "value_dim": self.value_dim,
            "value_separator": self.value_separator,
        }
        if self.discrete:
            ids = self.ids
            config.update(
                hash_bucket_size=ids.hash_bucket_size,
                num_buckets=ids.num_buckets,
                vocab_list=ids.vocab_list,
                vocab_dict=ids.vocab_dict,
            )
        else:
            config.update(boundaries=self.numbers.boundaries, normalizer=self.numbers.normalizer)
        return config


def map_values_args(f) -> dict:
    """MapValues arguments of a LookupFeature or MatchFeature message."""
    has = f.DESCRIPTOR.fields_by_name
    return dict(
        hash_bucket_size=f.hash_bucket_size if f.HasField("hash_bucket_size") else None,
        num_buckets=f.num_buckets if f.HasField("num_buckets") else None,
        vocab_list=list(f.vocab_list) or None,
        vocab_dict=dict(f.vocab_dict) or None,
        boundaries=list(f.boundaries),
        normalizer=f.normalizer if f.HasField("normalizer") else None,
        combiner=f.combiner if "combiner" in has else "sum",
        default_value=f.default_value,
        value_dim=f.value_dim if f.HasField("value_dim") else None,
        value_separator=f.value_separator if "value_separator" in has else ",",
    )
