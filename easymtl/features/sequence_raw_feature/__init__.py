"""sequence_raw_feature: a sequence of numbers in one column, dense per item or
bucketized and embedded (docs/sequences.md#the-config).

The config side (no TensorFlow); the layer and its builder are in
:mod:`easymtl.features.sequence_raw_feature.layer`.
"""

from __future__ import annotations

from easymtl.features import FEATURES
from easymtl.features.raw_feature import raw_feature_table
from easymtl.features.sequence_config import check_item, check_sequence


def check_sequence_raw_feature(f, where: str) -> None:
    """The checks of one SequenceRawFeature message."""
    check_sequence(f.sequence_length, f.sequence_delim, where)
    check_item(f, "raw", where)


FEATURES.register(
    "sequence_raw_feature",
    "easymtl.features.sequence_raw_feature.layer:build_sequence_raw_feature",
    check=check_sequence_raw_feature,
    table=raw_feature_table,
    sequence=True,
    docs="sequences.md#the-config",
)
