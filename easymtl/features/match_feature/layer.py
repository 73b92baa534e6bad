"""Match features: a primary and a secondary key looked up in a two-level map column
("pkey^skey:value,skey:value|pkey^...") → ids or a number."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.base import BuiltFeature, one_feature
from easymtl.features.lookup_feature.layer import split_pairs
from easymtl.features.map_config import ALL
from easymtl.features.map_values import NUMBER, MapValues, map_values_args
from easymtl.features.match_feature import match_inputs
from easymtl.features.ragged import from_value_rowids

# TorchEasyRec's fixed separators: "|" between primary items, "^" after the primary key,
# "," between secondary items, ":" after the secondary key.
_ITEM = "[^|^]+\\^[^|^]*"


@keras.saving.register_keras_serializable(package="easymtl")
class MatchFeature(keras.layers.Layer):
    """Looks a primary and a secondary key up in a two-level map, as TorchEasyRec's
    match_feature.

    A map cell holds items "pkey^skey:value,skey:value,..." joined by "|" (e.g.
    "12^3:0.5,4:1|15^3:2"). Call takes ``[nested_map, pkey, skey]``, [batch] string
    columns, where `pkey_all` (`skey_all`) leaves the pkey (skey) column out and matches
    every primary (secondary) key. The values under the row's keys are found; they become
    ids or a number as :class:`~easymtl.features.map_values.MapValues` makes them (several
    numbers found, with "ALL", are summed). Malformed items are ignored;
    :meth:`cell_checks` finds them in training data.

    Args:
        pkey_all: Match every primary key.
        skey_all: Match every secondary key.
        **kwargs: MapValues' arguments (but combiner: always "sum"), and the Layer's.

    Example:
        >>> f = MatchFeature()
        >>> cells = tf.constant(["a^x:1,y:2|b^x:4", "a^y:3"])
        >>> f([cells, tf.constant(["a", "b"]), tf.constant(["y", "y"])]).numpy()
        array([[2.], [0.]], dtype=float32)
    """

    def __init__(self, pkey_all: bool = False, skey_all: bool = False, **kwargs):
        names = (
            "hash_bucket_size", "num_buckets", "vocab_list", "vocab_dict", "boundaries",
            "normalizer", "default_value", "value_dim",
        )  # fmt: skip
        args = {k: kwargs.pop(k) for k in names if k in kwargs}
        super().__init__(**kwargs)
        if args.get("value_dim") not in (None, 0, 1):
            raise ValueError(f"`value_dim` must be 0 or 1. Received: {args['value_dim']}")
        self.pkey_all = bool(pkey_all)
        self.skey_all = bool(skey_all)
        self.values = MapValues(**args, combiner="sum", name="values")
        self._args = args

    @property
    def num_ids(self) -> int | None:
        """Rows of the embedding table, or None (a dense number)."""
        return self.values.num_ids

    def build(self, input_shape=None):
        self.values.build(None)

    def call(self, inputs):
        expected = 3 - self.pkey_all - self.skey_all
        if len(inputs) != expected:
            raise ValueError(f"MatchFeature reads {expected} columns. Received: {len(inputs)}")
        columns = [x if x.dtype == tf.string else tf.strings.as_string(x) for x in inputs]
        cells, keys = columns[0], iter(columns[1:])
        outer = tf.strings.split(cells, "|")
        outer = tf.ragged.boolean_mask(
            outer, outer.with_flat_values(tf.strings.regex_full_match(outer.flat_values, _ITEM))
        )
        pkeys, inner = split_pairs(outer.flat_values, "^")
        inner = tf.strings.split(inner, ",")
        inner = tf.ragged.boolean_mask(
            inner,
            inner.with_flat_values(tf.strings.regex_full_match(inner.flat_values, "[^:]+:.*")),
        )
        # One entry per (pkey, skey, value), with its example's row.
        item_of = inner.value_rowids()
        rows = tf.gather(outer.value_rowids(), item_of)
        skeys, values = split_pairs(inner.flat_values, ":")
        match = tf.ones_like(rows, tf.bool)
        if not self.pkey_all:
            match &= tf.gather(pkeys, item_of) == tf.gather(next(keys), rows)
        if not self.skey_all:
            match &= skeys == tf.gather(next(keys), rows)
        match = tf.reshape(match, [-1])
        found = from_value_rowids(
            tf.boolean_mask(values, match),
            tf.boolean_mask(rows, match),
            tf.shape(cells, out_type=tf.int64)[0],
        )
        return self.values(found)

    def cell_checks(self) -> list[tuple[int, object, str]]:
        """Checks of the raw map cells in training data, as ``(input index, fn(cells) ->
        [batch] bool, what is wrong)``: items "pkey^skey:value,..." joined by "|" (with
        numbers for numbers)."""
        value = "[^|,]+" if self.values.discrete else NUMBER
        item = f"[^|^]+\\^[^|^,:]+:{value}(,[^|^,:]+:{value})*"
        cell = f"\\|*({item}\\|*)*"

        def bad(x):
            return tf.logical_not(tf.strings.regex_full_match(x, cell))

        what = "value" if self.values.discrete else "number"
        return [
            (
                0,
                bad,
                f"is not 'pkey^skey:{what},skey:{what}' items joined by '|', as the map of "
                f"match_feature {self.name!r} reads",
            )
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "pkey_all": self.pkey_all,
            "skey_all": self.skey_all,
            **self._args,
        }


def build_match_feature(f, feature_configs=None) -> list[BuiltFeature]:
    """The layer of a MatchFeature message: embedded where its values are ids or
    bucketized, else dense."""
    args = map_values_args(f)
    args.pop("combiner")
    args.pop("value_separator")
    layer = MatchFeature(
        pkey_all=f.pkey == ALL, skey_all=f.skey == ALL, **args, name=f.feature_name
    )
    dim = f.embedding_dim if layer.num_ids is not None else None
    return one_feature(f, layer, dim, columns=[c for _, c in match_inputs(f)])
