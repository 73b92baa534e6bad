"""overlap_feature: how much a query's terms and a title's terms overlap (e.g. the
candidate's category in the user's tag list) → a number, dense or bucketized and embedded
(docs/features.md#overlap_feature).

The config side (no TensorFlow); the layer and its builder are in
:mod:`easymtl.features.overlap_feature.layer`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features import FEATURES
from easymtl.features.checks import check_boundaries, check_embedding, check_normalizer
from easymtl.features.map_config import field_of

# TorchEasyRec's methods (its feature generator's), and those easymtl computes.
METHODS = ("query_common_ratio", "title_common_ratio", "is_contain", "is_equal", "index_of")
NOT_COMPUTED = (
    "proximity_min_cover",
    "proximity_min_dist",
    "proximity_max_dist",
    "proximity_avg_dist",
)


def overlap_inputs(proto) -> list[tuple[str, str]]:
    """``(field name, input column)`` of the query and the title an OverlapFeature reads."""
    return [("query", field_of(proto.query)), ("title", field_of(proto.title))]


def check_overlap_feature(f, where: str) -> None:
    """The checks of one OverlapFeature message."""
    if f.method in NOT_COMPUTED:
        raise ConfigError(
            f"{where}.method",
            f"{f.method!r} is a TorchEasyRec method that easymtl does not compute; "
            f"expected one of {', '.join(METHODS)}",
        )
    if f.method not in METHODS:
        raise ConfigError(f"{where}.method", f"{f.method!r}: expected one of {', '.join(METHODS)}")
    if not f.separator:
        raise ConfigError(f"{where}.separator", "must not be empty")
    check_boundaries(f, where)
    check_embedding(f, where)
    if f.boundaries and f.HasField("normalizer"):
        raise ConfigError(f"{where}.normalizer", "applies to dense values only")
    check_normalizer(f, where)


def overlap_feature_table(f) -> tuple[int, int] | None:
    """(rows, dim) of a bucketized OverlapFeature's table; None for a dense value."""
    return (len(f.boundaries) + 1, f.embedding_dim) if f.boundaries else None


FEATURES.register(
    "overlap_feature",
    "easymtl.features.overlap_feature.layer:build_overlap_feature",
    check=check_overlap_feature,
    table=overlap_feature_table,
    inputs=overlap_inputs,
    docs="features.md#overlap_feature",
)
