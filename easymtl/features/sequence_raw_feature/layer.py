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
    """Turns a sequence column into one number per item: a dense (optionally
    normalized) value, or with `boundaries` a bucket id to embed.

    Items are split and truncated as for
    :class:`~easymtl.features.sequence_id_feature.SequenceIdFeature`; an empty or
    non-numeric item takes `default_value`.

    Args:
        sequence_length: Most items kept per cell (the first ones).
        sequence_delim: Separator of the items of a string cell.
        boundaries, normalizer, default_value: As for :class:`RawFeature`, applied to
            each item.

    Call returns ragged [batch, (items), 1] float values, or with `boundaries` ragged
    int64 ids [batch, (items), (1)].

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
            boundaries=boundaries, normalizer=normalizer, default_value=default_value, name="values"
        )

    @property
    def num_ids(self) -> int | None:
        """Rows of the embedding table (with boundaries), else None (dense values)."""
        return self.values.num_ids

    def build(self, input_shape=None):
        self.values.build(input_shape)

    def call(self, inputs):
        items = sequence_items(inputs, self.sequence_delim, self.sequence_length)
        return tf.RaggedTensor.from_row_splits(
            self.values(items.flat_values), items.row_splits, validate=False
        )

    def get_config(self):
        values = self.values
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "sequence_delim": self.sequence_delim,
            "boundaries": values.boundaries,
            "normalizer": values.normalizer,
            "default_value": values.default_value,
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
        name=name or f.feature_name,
    )
