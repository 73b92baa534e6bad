"""sequence_id_feature: a sequence of categorical ids in one column, embedded item by
item (docs/sequences.md#the-config).

The config side (no TensorFlow); the layer and its builder are in
:mod:`easymtl.features.sequence_id_feature.layer`.
"""

from __future__ import annotations

from easymtl.features import FEATURES
from easymtl.features.id_feature import id_feature_table
from easymtl.features.sequence_config import check_item, check_sequence


def check_sequence_id_feature(f, where: str) -> None:
    """The checks of one SequenceIdFeature message."""
    check_sequence(f.sequence_length, f.sequence_delim, where)
    check_item(f, "id", where)


FEATURES.register(
    "sequence_id_feature",
    "easymtl.features.sequence_id_feature.layer:build_sequence_id_feature",
    check=check_sequence_id_feature,
    table=id_feature_table,
    sequence=True,
    docs="sequences.md#the-config",
)
