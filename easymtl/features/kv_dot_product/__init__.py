"""kv_dot_product: the dot product of two key:value columns (or the size of two sets'
intersection) → a number, dense or bucketized and embedded
(docs/features.md#kv_dot_product).

The config side (no TensorFlow); the layer and its builder are in
:mod:`easymtl.features.kv_dot_product.layer`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features import FEATURES
from easymtl.features.checks import (
    check_boundaries,
    check_embedding,
    check_normalizer,
    check_number,
)
from easymtl.features.map_config import field_of


def kv_inputs(proto) -> list[tuple[str, str]]:
    """``(field name, input column)`` of the query and the document a KvDotProduct reads."""
    return [("query", field_of(proto.query)), ("document", field_of(proto.document))]


def check_kv_dot_product(f, where: str) -> None:
    """The checks of one KvDotProduct message."""
    for name in ("separator", "kv_delimiter"):
        if not getattr(f, name):
            raise ConfigError(f"{where}.{name}", "must not be empty")
    if f.kv_delimiter == f.separator:
        raise ConfigError(f"{where}.kv_delimiter", "must differ from separator")
    check_boundaries(f, where)
    check_embedding(f, where)
    if f.boundaries and f.HasField("normalizer"):
        raise ConfigError(f"{where}.normalizer", "applies to dense values only")
    check_normalizer(f, where)
    check_number(f, "default_value", where)


def kv_table(f) -> tuple[int, int] | None:
    """(rows, dim) of a bucketized KvDotProduct's table; None for a dense value."""
    return (len(f.boundaries) + 1, f.embedding_dim) if f.boundaries else None


FEATURES.register(
    "kv_dot_product",
    "easymtl.features.kv_dot_product.layer:build_kv_dot_product",
    check=check_kv_dot_product,
    table=kv_table,
    inputs=kv_inputs,
    docs="features.md#kv_dot_product",
)
