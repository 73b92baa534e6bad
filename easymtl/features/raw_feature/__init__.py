"""raw_feature: a numeric column → a dense value (optionally normalized, value_dim wide)
or, with boundaries, bucket ids embedded (docs/features.md#raw_feature).

The config side (no TensorFlow); the layer and its builder are in
:mod:`easymtl.features.raw_feature.layer`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features import FEATURES
from easymtl.features.checks import (
    check_boundaries,
    check_embedding,
    check_normalizer,
    check_number,
    check_pooling,
    check_positive,
)


def check_raw_feature(f, where: str) -> None:
    """The checks of one RawFeature (or SequenceRawFeature) message."""
    check_positive(f, "value_dim", where)
    if f.value_dim > 1 and not getattr(f, "separator", "\x1d"):
        raise ConfigError(f"{where}.separator", "must not be empty")
    check_pooling(f, where)
    check_boundaries(f, where)
    check_embedding(f, where, f.value_dim)
    check_number(f, "default_value", where)
    check_normalizer(f, where)


def raw_feature_table(f) -> tuple[int, int] | None:
    """(rows, dim) of a bucketized RawFeature's table; None for a dense value."""
    return (len(f.boundaries) + 1, f.embedding_dim) if f.boundaries else None


FEATURES.register(
    "raw_feature",
    "easymtl.features.raw_feature.layer:build_raw_feature",
    check=check_raw_feature,
    table=raw_feature_table,
    docs="features.md#raw_feature",
)
