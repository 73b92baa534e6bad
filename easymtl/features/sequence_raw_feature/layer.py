"""Sequences of numbers: a raw sequence column → values (or bucket ids) per item."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.base import BuiltFeature
from easymtl.features.raw_feature.layer import RawFeature
from easymtl.features.sequence_config import entry_feature
from easymtl.features.sequence_items import sequence_items


@keras.saving.register_keras_serializable(package="easymtl")
class SequenceRawFeature(keras.layers.Layer):
    """Turns a sequence column into `value_dim` numbers per item: dense (optionally
    normalized) values, or with `boundaries` bucket ids to embed (pooled per item).

    Items are split and truncated as for
    :class:`~easymtl.features.sequence_id_feature.SequenceIdFeature`; an empty or
    non-numeric value takes `default_value`. With `value_dim` > 1 an item holds that
    many numbers joined by `separator` (string cells only).

    Args:
        sequence_length: Most items kept per cell (the first ones).
        sequence_delim: Separator of the items of a string cell.
        boundaries, normalizer, default_value, value_dim, separator: As for
            :class:`RawFeature`, applied to each item.

    Call returns ragged [batch, (items), value_dim] float values, or with `boundaries`
    ragged int64 ids [batch, (items), (value_dim)].

    Example:
        >>> f = SequenceRawFeature(3, "|")
        >>> f(tf.constant(["1|2", ""])).row_lengths().numpy()
        array([2, 0])
    """

    is_sequence = True

    def __init__(
        self,
        sequence_length: int,
        sequence_delim: str = ";",
        boundaries: list[float] | None = None,
        normalizer: str | None = None,
        default_value: float = 0.0,
        value_dim: int = 1,
        separator: str = "\x1d",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if sequence_length <= 0:
            raise ValueError(f"`sequence_length` must be positive. Received: {sequence_length}")
        if not sequence_delim:
            raise ValueError("`sequence_delim` must not be empty.")
        self.sequence_length = int(sequence_length)
        self.sequence_delim = sequence_delim
        self.values = RawFeature(
            boundaries=boundaries,
            normalizer=normalizer,
            default_value=default_value,
            value_dim=value_dim,
            separator=separator,
            name="values",
        )

    @property
    def num_ids(self) -> int | None:
        """Rows of the embedding table (with boundaries), else None (dense values)."""
        return self.values.num_ids

    def build(self, input_shape=None):
        self.values.build(input_shape)

    def call(self, inputs):
        if self.values.value_dim > 1 and (inputs.dtype != tf.string or inputs.shape.rank != 1):
            raise ValueError(
                f"{self.name}: value_dim {self.values.value_dim} in a sequence reads string "
                f"cells (items of numbers joined by {self.values.separator!r}), not "
                f"{inputs.dtype.name} [{inputs.shape.rank}-d] columns"
            )
        items = sequence_items(inputs, self.sequence_delim, self.sequence_length)
        return tf.RaggedTensor.from_row_splits(
            self.values(items.flat_values), items.row_splits, validate=False
        )

    def cell_checks(self) -> list[tuple[int, object, str]]:
        """With value_dim > 1, every non-empty item of a cell holds value_dim values (see
        :meth:`RawFeature.cell_checks`)."""
        value_dim, separator = self.values.value_dim, self.values.separator
        if value_dim == 1:
            return []

        def bad(x):
            if x.dtype != tf.string or x.shape.rank != 1:
                return tf.zeros(tf.shape(x)[:1], tf.bool)
            items = sequence_items(x, self.sequence_delim, self.sequence_length)
            counts = tf.strings.split(items.flat_values, separator).row_lengths()
            wrong = (items.flat_values != "") & (counts != value_dim)
            return tf.reduce_any(items.with_flat_values(wrong), axis=1)

        return [
            (
                0,
                bad,
                f"has an item that does not hold {value_dim} values joined by {separator!r} "
                f"(value_dim of feature {self.name!r})",
            )
        ]

    def get_config(self):
        values = self.values
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "sequence_delim": self.sequence_delim,
            "boundaries": values.boundaries,
            "normalizer": values.normalizer,
            "default_value": values.default_value,
            "value_dim": values.value_dim,
            "separator": values.separator,
        }


def build_sequence_raw_feature(f, feature_configs) -> list[BuiltFeature]:
    """The layer of a SequenceRawFeature message: embedded with boundaries, else dense."""
    return [entry_feature(feature_configs, f.feature_name, sequence_raw_layer(f))]


def sequence_raw_layer(
    f, sequence_length: int | None = None, sequence_delim: str | None = None, name=None
) -> SequenceRawFeature:
    """The layer of a SequenceRawFeature message; with the sequence's length, delimiter
    and feature name, of a RawFeature inside a sequence_feature."""
    return SequenceRawFeature(
        sequence_length=sequence_length or f.sequence_length,
        sequence_delim=sequence_delim or f.sequence_delim,
        boundaries=list(f.boundaries),
        normalizer=f.normalizer if f.HasField("normalizer") else None,
        default_value=float(f.default_value),
        value_dim=f.value_dim or 1,
        separator=getattr(f, "separator", "\x1d"),
        name=name or f.feature_name,
    )
