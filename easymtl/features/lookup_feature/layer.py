"""Lookup features: keys looked up in a "key:value" map column → ids or a number."""

from __future__ import annotations

import re

import keras
import tensorflow as tf

from easymtl.features.base import BuiltFeature, one_feature
from easymtl.features.lookup_feature import lookup_inputs
from easymtl.features.map_values import NUMBER, MapValues, map_values_args
from easymtl.features.ragged import from_value_rowids


def split_pairs(items: tf.Tensor, sep: str) -> tuple[tf.Tensor, tf.Tensor]:
    """(keys, values) of "key<sep>value" strings, split at the first `sep`."""
    s = re.escape(sep)
    keys = tf.strings.regex_replace(items, f"{s}.*$", "")
    values = tf.strings.regex_replace(items, f"^[^{s}]*{s}", "")
    return keys, values


def find(keys: tf.RaggedTensor, map_keys: tf.RaggedTensor, map_values: tf.RaggedTensor):
    """Ragged [batch, (found)] of the value of each key of `keys` [batch, (keys)] in its
    row's map (`map_keys`, `map_values`: [batch, (items)]), in key order; the first item
    with a key wins, keys without one find nothing."""
    rows = keys.value_rowids()
    candidates = tf.gather(map_keys, rows)  # each key's row of the map: [keys, (items)]
    hit = tf.equal(candidates.flat_values, tf.gather(keys.flat_values, candidates.value_rowids()))
    # 1-D, said statically: a symbolic trace (Keras building the model) may not know it.
    hit = tf.reshape(hit, [-1])
    hits = tf.ragged.boolean_mask(tf.gather(map_values, rows), candidates.with_flat_values(hit))
    found = hits.row_lengths() > 0
    first = hits[:, :1].flat_values
    return from_value_rowids(first, tf.boolean_mask(rows, found), keys.nrows())


@keras.saving.register_keras_serializable(package="easymtl")
class LookupFeature(keras.layers.Layer):
    """Looks keys up in a map column, as TorchEasyRec's lookup_feature.

    Call takes ``[map, key]``, two [batch] string columns: a map cell holds "key:value"
    items joined by `separator` ("12:3|15:1"), a key cell one or more keys joined by
    `separator`. The value of each key (its first item) is found; what the values become
    is :class:`~easymtl.features.map_values.MapValues` (ids with an id kind, else a
    number combined by `combiner`). Items that are not "key:value" are ignored;
    :meth:`cell_checks` finds them in training data.

    Args:
        separator: Separator of the map's items and of the key's values.
        **kwargs: MapValues' arguments (hash_bucket_size, num_buckets, vocab_list,
            vocab_dict, boundaries, normalizer, combiner, default_value, value_dim,
            value_separator), and the Layer's.

    Example:
        >>> f = LookupFeature(separator="|", combiner="sum")
        >>> f([tf.constant(["a:1|b:2", "a:5"]), tf.constant(["b|a", "c"])]).numpy()
        array([[3.], [0.]], dtype=float32)
    """

    def __init__(self, separator: str = "\x1d", **kwargs):
        names = (
            "hash_bucket_size", "num_buckets", "vocab_list", "vocab_dict", "boundaries",
            "normalizer", "combiner", "default_value", "value_dim", "value_separator",
        )  # fmt: skip
        args = {k: kwargs.pop(k) for k in names if k in kwargs}
        super().__init__(**kwargs)
        if not separator:
            raise ValueError("`separator` must not be empty.")
        self.separator = separator
        self.values = MapValues(**args, name="values")
        self._args = args

    @property
    def num_ids(self) -> int | None:
        """Rows of the embedding table, or None (a dense number)."""
        return self.values.num_ids

    def build(self, input_shape=None):
        self.values.build(None)

    def _items(self, x) -> tf.RaggedTensor:
        if x.dtype != tf.string:
            x = tf.strings.as_string(x)
        items = tf.strings.split(x, self.separator)
        return tf.ragged.boolean_mask(items, items != "")

    def call(self, inputs):
        if len(inputs) != 2:
            raise ValueError(f"LookupFeature reads [map, key]. Received: {len(inputs)} columns")
        items = self._items(inputs[0])
        items = tf.ragged.boolean_mask(
            items,
            items.with_flat_values(tf.strings.regex_full_match(items.flat_values, "[^:]+:.*")),
        )
        map_keys, map_values = split_pairs(items.flat_values, ":")
        found = find(
            self._items(inputs[1]),
            items.with_flat_values(map_keys),
            items.with_flat_values(map_values),
        )
        return self.values(found)

    def cell_checks(self) -> list[tuple[int, object, str]]:
        """Checks of the raw map cells in training data, as ``(input index, fn(cells) ->
        [batch] bool, what is wrong)``: each item is "key:value" (with a number for a
        number)."""
        values = self.values
        if values.discrete:
            value, what = ".+", "value"
        elif (values.value_dim or 1) > 1:
            sep = re.escape(values.value_separator)
            value, what = (
                f"{NUMBER}({sep}{NUMBER})*",
                f"numbers joined by {values.value_separator!r}",
            )
        else:
            value, what = NUMBER, "number"
        item = f"[^:]+:{value}"

        def bad(x):
            items = self._items(x)
            ok = tf.strings.regex_full_match(items.flat_values, item)
            return tf.reduce_any(tf.logical_not(items.with_flat_values(ok)), axis=1)

        return [
            (
                0,
                bad,
                f"is not 'key:{what}' items joined by {self.separator!r}, as the map of "
                f"lookup_feature {self.name!r} reads",
            )
        ]

    def get_config(self):
        return {**super().get_config(), "separator": self.separator, **self._args}


def build_lookup_feature(f, feature_configs=None) -> list[BuiltFeature]:
    """The layer of a LookupFeature message: embedded where its values are ids or
    bucketized, else dense."""
    layer = LookupFeature(separator=f.separator, **map_values_args(f), name=f.feature_name)
    dim = f.embedding_dim if layer.num_ids is not None else None
    return one_feature(f, layer, dim, columns=[c for _, c in lookup_inputs(f)])
