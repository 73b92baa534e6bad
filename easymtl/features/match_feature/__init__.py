"""match_feature: a primary and a secondary key looked up in a two-level map column →
the values found, as a number (dense or bucketized) or ids, embedded
(docs/features.md#match_feature).

The config side (no TensorFlow); the layer and its builder are in
:mod:`easymtl.features.match_feature.layer` (through
:mod:`easymtl.features.map_values`).
"""

from __future__ import annotations

from easymtl.features import FEATURES
from easymtl.features.map_config import (
    ALL,
    ID_KINDS,
    IDS_VALUE_DIM,
    check_input_fields,
    check_map_values,
    check_value_dim,
    field_of,
    map_feature_table,
)


def match_inputs(proto) -> list[tuple[str, str]]:
    """``(field name, input column)`` of the nested map, then of pkey and skey unless
    "ALL", that a MatchFeature reads."""
    inputs = [("nested_map", field_of(proto.nested_map))]
    keys = [k for k in ("pkey", "skey") if getattr(proto, k) != ALL]
    return inputs + [(k, field_of(getattr(proto, k))) for k in keys]


def check_match_feature(f, where: str) -> None:
    """The checks of one MatchFeature message."""
    check_input_fields(f, where, ("nested_map",))
    check_input_fields(f, where, ("pkey", "skey"), all_ok=True)
    if check_map_values(f, where) in ID_KINDS:
        check_value_dim(f, where, f.value_dim in (0, 1), IDS_VALUE_DIM)
    else:
        check_value_dim(f, where, f.value_dim == 1, "1")


FEATURES.register(
    "match_feature",
    "easymtl.features.match_feature.layer:build_match_feature",
    check=check_match_feature,
    table=map_feature_table,
    inputs=match_inputs,
    docs="features.md#match_feature",
)
