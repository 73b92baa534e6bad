"""lookup_feature: a key looked up in a map column → the values found, combined into a
number (dense or bucketized) or ids, embedded (docs/features.md#lookup_feature).

The config side (no TensorFlow); the layer and its builder are in
:mod:`easymtl.features.lookup_feature.layer` (through
:mod:`easymtl.features.map_values`).
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features import FEATURES
from easymtl.features.map_config import (
    ID_KINDS,
    IDS_VALUE_DIM,
    check_input_fields,
    check_map_values,
    check_value_dim,
    field_of,
    map_feature_table,
)

COMBINERS = ("sum", "mean", "min", "max", "count")


def lookup_inputs(proto) -> list[tuple[str, str]]:
    """``(field name, input column)`` of the map and the key a LookupFeature reads."""
    return [("map", field_of(proto.map)), ("key", field_of(proto.key))]


def check_lookup_feature(f, where: str) -> None:
    """The checks of one LookupFeature message."""
    check_input_fields(f, where, ("map", "key"))
    kind = check_map_values(f, where)
    if f.combiner not in COMBINERS:
        raise ConfigError(
            f"{where}.combiner", f"{f.combiner!r}: expected one of {', '.join(COMBINERS)}"
        )
    if not f.separator:
        raise ConfigError(f"{where}.separator", "must not be empty")
    if kind in ID_KINDS:
        check_value_dim(f, where, f.value_dim in (0, 1), IDS_VALUE_DIM)
    elif kind is None:
        check_value_dim(f, where, f.value_dim > 0, "positive")
    else:
        check_value_dim(f, where, f.value_dim == 1, "1")
    if f.value_dim > 1 and not f.value_separator:
        raise ConfigError(f"{where}.value_separator", "must not be empty")


FEATURES.register(
    "lookup_feature",
    "easymtl.features.lookup_feature.layer:build_lookup_feature",
    check=check_lookup_feature,
    table=map_feature_table,
    inputs=lookup_inputs,
    docs="features.md#lookup_feature",
)
