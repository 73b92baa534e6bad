"""Crossed features: the values of two or more columns, crossed → ragged ids."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.base import BuiltFeature, one_feature
from easymtl.features.combo_feature import combo_columns
from easymtl.features.id_feature.layer import IdFeature
from easymtl.features.ragged import from_value_rowids, true_positions


@keras.saving.register_keras_serializable(package="easymtl")
class ComboFeature(keras.layers.Layer):
    """Crosses the values of several columns into ids: each combination of one value of
    each column, joined with "_" (``"ios_12"``), is hashed or looked up.

    With a `separator` a cell holds several values and every combination counts; an
    empty cell takes `default_value` when given, else the row has no crossed value (its
    embedding is zeros).

    Args:
        hash_bucket_size: Hash each crossed value into this many rows.
        vocab_list: Crossed value at position i → row i + 2, the default value → row 0,
            unknown values → row 1 (TorchEasyRec's rule).
        separator: Separator of several values in one cell.
        default_value: Value used where a cell is empty.

    Call takes a list of [batch] columns and returns ragged int64 ids [batch, (crosses)].

    Example:
        >>> f = ComboFeature(hash_bucket_size=100)
        >>> f([tf.constant(["ios", ""]), tf.constant(["12", "7"])]).row_lengths().numpy()
        array([1, 0])
    """

    def __init__(
        self,
        hash_bucket_size: int | None = None,
        vocab_list: list[str] | None = None,
        separator: str | None = None,
        default_value: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (hash_bucket_size is None) == (vocab_list is None):
            raise ValueError(
                "Exactly one of `hash_bucket_size`, `vocab_list` is needed. "
                f"Received: {hash_bucket_size}, {vocab_list}"
            )
        self.separator = separator
        self.default_value = default_value
        self.ids = IdFeature(hash_bucket_size=hash_bucket_size, vocab_list=vocab_list, name="ids")

    @property
    def num_ids(self) -> int:
        """Rows of the embedding table this feature needs."""
        return self.ids.num_ids

    def build(self, input_shape=None):
        self.ids.build(None)

    def call(self, inputs):
        if len(inputs) < 2:
            raise ValueError(f"ComboFeature crosses two or more columns. Received: {len(inputs)}")
        crossed = tf.sparse.cross([self._values(x) for x in inputs], separator="_")
        ids = self.ids(crossed.values).flat_values
        # Made from its value row ids, as an id feature's (see split_tokens).
        return from_value_rowids(ids, crossed.indices[:, 0], tf.size(inputs[0], out_type=tf.int64))

    def _values(self, x) -> tf.SparseTensor:
        """The non-empty values of the [batch] column `x` (split at the separator), as a
        sparse tensor made from their positions: its column indices may skip an empty
        token, which the cross does not read (it reads only the rows), where a ragged
        mask and its conversions to and from sparse cost five times the traced ops."""
        if x.dtype != tf.string:
            x = tf.strings.as_string(x)
        if self.default_value is not None:
            x = tf.where(x == "", self.default_value, x)
        if self.separator:
            indices, values, shape = tf.raw_ops.StringSplitV2(
                input=x, sep=self.separator, maxsplit=-1
            )
            kept = true_positions(values != "")
            return tf.SparseTensor(tf.gather(indices, kept), tf.gather(values, kept), shape)
        rows = true_positions(x != "")
        return tf.SparseTensor(
            tf.stack([rows, tf.zeros_like(rows)], axis=1),
            tf.gather(x, rows),
            tf.stack([tf.size(x, out_type=tf.int64), 1]),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "hash_bucket_size": self.ids.hash_bucket_size,
            "vocab_list": self.ids.vocab_list,
            "separator": self.separator,
            "default_value": self.default_value,
        }


def build_combo_feature(f, feature_configs=None) -> list[BuiltFeature]:
    """The layer of a ComboFeature message, embedded with its embedding_dim."""
    layer = ComboFeature(
        hash_bucket_size=f.hash_bucket_size if f.HasField("hash_bucket_size") else None,
        vocab_list=list(f.vocab_list) or None,
        separator=f.separator,
        default_value=f.default_value if f.HasField("default_value") else None,
        name=f.feature_name,
    )
    return one_feature(f, layer, f.embedding_dim, columns=combo_columns(f))
