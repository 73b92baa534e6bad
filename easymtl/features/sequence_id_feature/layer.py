"""Sequences of categorical ids: a raw sequence column → ragged ids per item."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.base import BuiltFeature
from easymtl.features.id_feature.layer import IdFeature, zch_of
from easymtl.features.ragged import from_value_rowids
from easymtl.features.sequence_config import entry_feature
from easymtl.features.sequence_items import sequence_items


@keras.saving.register_keras_serializable(package="easymtl")
class SequenceIdFeature(keras.layers.Layer):
    """Turns a sequence column into embedding row ids, item by item.

    A cell's items are split on `sequence_delim` (or read from a list column) and its
    first `sequence_length` items are kept (see
    :func:`~easymtl.features.sequence_items.sequence_items`); each item becomes ids as an
    :class:`IdFeature` value does (with a `separator`, several ids; an empty item takes
    `default_value`; a value without an id, such as "NULL" with `num_buckets`, has none
    and embeds to zeros, but keeps its position). With `weighted`, each item holds
    ``id:weight`` entries and its ids' embeddings are scaled by their weights before
    they pool.

    Args:
        sequence_length: Most items kept per cell (the first ones).
        sequence_delim: Separator of the items of a string cell.
        hash_bucket_size, num_buckets, vocab_list, separator, default_value, weighted:
            As for :class:`IdFeature`, applied to each item.

    Call returns ragged int64 ids [batch, (items), (ids per item)]; with `weighted`, the
    pair ``(ids, weights)``, both so shaped.

    Example:
        >>> f = SequenceIdFeature(2, "|", hash_bucket_size=10)
        >>> f(tf.constant(["a|b|c", ""])).row_lengths().numpy()
        array([2, 0])
    """

    is_sequence = True

    def __init__(
        self,
        sequence_length: int,
        sequence_delim: str = ";",
        hash_bucket_size: int | None = None,
        num_buckets: int | None = None,
        vocab_list: list[str] | None = None,
        separator: str | None = None,
        default_value: str | None = None,
        weighted: bool = False,
        zch: dict | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if sequence_length <= 0:
            raise ValueError(f"`sequence_length` must be positive. Received: {sequence_length}")
        if not sequence_delim:
            raise ValueError("`sequence_delim` must not be empty.")
        self.sequence_length = int(sequence_length)
        self.sequence_delim = sequence_delim
        self.ids = IdFeature(
            hash_bucket_size=hash_bucket_size,
            num_buckets=num_buckets,
            vocab_list=vocab_list,
            separator=separator,
            default_value=default_value,
            weighted=weighted,
            zch=zch,
            name="ids",
        )

    @property
    def num_ids(self) -> int:
        """Rows of the embedding table this feature needs."""
        return self.ids.num_ids

    @property
    def zch(self) -> dict | None:
        """The arguments of the feature's zero-collision table (None without one)."""
        return self.ids.zch

    def build(self, input_shape=None):
        self.ids.build(input_shape)

    def call(self, inputs):
        if inputs.shape.rank == 1 and self.ids.separator is None and not self.ids.weighted:
            return self._single_ids(inputs)
        items = sequence_items(inputs, self.sequence_delim, self.sequence_length)
        ids = self.ids(items.flat_values)
        if self.ids.weighted:
            ids, weights = ids
            return (
                tf.RaggedTensor.from_row_splits(ids, items.row_splits, validate=False),
                tf.RaggedTensor.from_row_splits(weights, items.row_splits, validate=False),
            )
        return tf.RaggedTensor.from_row_splits(ids, items.row_splits, validate=False)

    def cell_checks(self) -> list[tuple[int, object, str]]:
        """Checks of the raw cells in training data (see :meth:`IdFeature.cell_checks`):
        a weighted sequence's items hold ``id:weight`` entries only."""
        if not self.ids.weighted:
            return []
        [(_, bad_item, _)] = self.ids.cell_checks()

        def bad(x):
            items = sequence_items(x, self.sequence_delim, self.sequence_length)
            return tf.reduce_any(items.with_flat_values(bad_item(items.flat_values)), axis=1)

        return [(0, bad, f"holds an item that is not 'id:weight', as {self.name!r} reads")]

    def _single_ids(self, x):
        """The ids of a string column whose items are one id each: what
        :func:`sequence_items` then the ids give, with the strings split once and every
        later selection (empty cells, truncation, items without an id) made on ints."""
        if x.dtype != tf.string:
            x = tf.strings.as_string(x)
        split = tf.strings.split(x, self.sequence_delim)
        # split("") is [""]: an empty cell is an empty sequence.
        lengths = tf.where(
            tf.strings.length(x) > 0,
            tf.minimum(split.row_lengths(), self.sequence_length),
            tf.zeros_like(split.row_lengths()),
        )
        rows = split.value_rowids()
        position = tf.range(tf.shape(rows, out_type=tf.int64)[0]) - tf.gather(
            split.row_splits, rows
        )
        kept = tf.where(tf.less(position, tf.gather(lengths, rows)))[:, 0]
        ids, present = self.ids.item_ids(split.flat_values)
        ids, present = tf.gather(ids, kept), tf.gather(present, kept)
        # Made from value row ids, which the ragged tensors then hold (the embedding
        # lookup reads both levels'); from row lengths, each read would derive them anew.
        with_id = tf.where(present)[:, 0]
        per_item = from_value_rowids(
            tf.gather(ids, with_id), with_id, tf.shape(kept, out_type=tf.int64)[0]
        )  # fmt: skip
        return from_value_rowids(
            per_item, tf.gather(rows, kept), tf.shape(x, out_type=tf.int64)[0]
        )  # fmt: skip

    def get_config(self):
        ids = self.ids
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "sequence_delim": self.sequence_delim,
            "hash_bucket_size": ids.hash_bucket_size,
            "num_buckets": ids.num_buckets,
            "vocab_list": ids.vocab_list,
            "separator": ids.separator,
            "default_value": ids.default_value,
            "weighted": ids.weighted,
            "zch": ids.zch,
        }


def build_sequence_id_feature(f, feature_configs) -> list[BuiltFeature]:
    """The layer of a SequenceIdFeature message, embedded with its embedding_dim."""
    return [entry_feature(feature_configs, f.feature_name, sequence_id_layer(f))]


def sequence_id_layer(
    f, sequence_length: int | None = None, sequence_delim: str | None = None, name=None
) -> SequenceIdFeature:
    """The layer of a SequenceIdFeature message; with the sequence's length, delimiter
    and feature name, of an IdFeature inside a sequence_feature (whose default_value
    applies only where it is set)."""
    return SequenceIdFeature(
        sequence_length=sequence_length or f.sequence_length,
        sequence_delim=sequence_delim or f.sequence_delim,
        hash_bucket_size=f.hash_bucket_size if f.HasField("hash_bucket_size") else None,
        num_buckets=f.num_buckets if f.HasField("num_buckets") else None,
        vocab_list=list(f.vocab_list) or None,
        separator=f.separator if f.HasField("separator") else None,
        default_value=(
            f.default_value if f.HasField("default_value") or sequence_length is None else None
        ),
        weighted=getattr(f, "weighted", False),
        zch=zch_of(f),
        name=name or f.feature_name,
    )
