"""combo_feature: the crosses of two or more columns' values → ids hashed or looked up,
embedded and pooled (docs/features.md#combo_feature).

The config side (no TensorFlow); the layer and its builder are in
:mod:`easymtl.features.combo_feature.layer`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features import FEATURES
from easymtl.features.checks import (
    check_data_type,
    check_one_of,
    check_pooling,
    check_positive,
    check_separator,
)


def combo_columns(proto) -> list[str]:
    """The input fields a ComboFeature crosses, in order."""
    return [e.split(":", 1)[-1] for e in proto.expression]


def combo_inputs(proto) -> list[tuple[str, str]]:
    """``(field path, input column)`` of each column a ComboFeature crosses."""
    return [(f"expression[{j}]", column) for j, column in enumerate(combo_columns(proto))]


def check_combo_feature(f, where: str) -> None:
    """The checks of one ComboFeature message."""
    if len(f.expression) < 2:
        raise ConfigError(f"{where}.expression", "a combo_feature crosses two or more inputs")
    kinds = (["hash_bucket_size"] if f.HasField("hash_bucket_size") else []) + (
        ["vocab_list"] if f.vocab_list else []
    )
    if check_one_of(f, where, ["hash_bucket_size", "vocab_list"], kinds) == "hash_bucket_size":
        check_positive(f, "hash_bucket_size", where)
    check_positive(f, "embedding_dim", where)
    check_pooling(f, where)
    check_separator(f, where)
    check_data_type(f, where)


def combo_feature_table(f) -> tuple[int, int]:
    """(rows, dim) of a ComboFeature's table: its buckets, or its vocabulary plus one row
    for crossed values outside it."""
    rows = f.hash_bucket_size if f.HasField("hash_bucket_size") else len(f.vocab_list) + 1
    return rows, f.embedding_dim


FEATURES.register(
    "combo_feature",
    "easymtl.features.combo_feature.layer:build_combo_feature",
    check=check_combo_feature,
    table=combo_feature_table,
    inputs=combo_inputs,
    docs="features.md#combo_feature",
)
