"""lookup_feature and match_feature in the config: the columns they read, their tables
and the checks of config validation. Imports no TensorFlow.

Both find values in a map column; the values become ids (with an id kind:
hash_bucket_size, num_buckets, vocab_list or vocab_dict), a bucketized number (with
boundaries) or a dense number.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features.normalizer import parse_normalizer
from easymtl.features.vocab import proto_vocabulary

ID_KINDS = ("hash_bucket_size", "num_buckets", "vocab_list", "vocab_dict")
COMBINERS = ("sum", "mean", "min", "max", "count")
# A match_feature's pkey or skey that matches every key.
ALL = "ALL"


def _field(expression: str) -> str:
    return expression.split(":", 1)[-1]


def map_inputs(proto) -> list[tuple[str, str]]:
    """``(field name, input column)`` of each column a LookupFeature (map, key) or a
    MatchFeature (nested_map, then pkey and skey unless "ALL") reads, in order."""
    if proto.DESCRIPTOR.name == "LookupFeature":
        return [("map", _field(proto.map)), ("key", _field(proto.key))]
    inputs = [("nested_map", _field(proto.nested_map))]
    inputs += [(k, _field(getattr(proto, k))) for k in ("pkey", "skey") if getattr(proto, k) != ALL]
    return inputs


def map_columns(proto) -> list[str]:
    """The input columns a LookupFeature or MatchFeature reads, in order."""
    return [column for _, column in map_inputs(proto)]


def id_kind(proto) -> str | None:
    """The id kind a lookup/match feature's values take, or None (numbers)."""
    return next((k for k in ID_KINDS if id_kind_set(proto, k)), None)


def map_feature_table(proto) -> tuple[int, int] | None:
    """(rows, dim) of a lookup/match feature's table; None for a dense value."""
    kind = id_kind(proto)
    if kind in ("hash_bucket_size", "num_buckets"):
        return getattr(proto, kind), proto.embedding_dim
    if kind is not None:
        return proto_vocabulary(proto).rows, proto.embedding_dim
    if proto.boundaries:
        return len(proto.boundaries) + 1, proto.embedding_dim
    return None


def check_map_feature(f, where: str) -> None:
    """The checks of one LookupFeature or MatchFeature message."""
    lookup = f.DESCRIPTOR.name == "LookupFeature"
    if lookup:
        for name in ("map", "key"):
            if not _field(getattr(f, name)):
                raise ConfigError(f"{where}.{name}", "must name an input field")
    else:
        if not _field(f.nested_map):
            raise ConfigError(f"{where}.nested_map", "must name an input field")
        for name in ("pkey", "skey"):
            if not _field(getattr(f, name)):
                raise ConfigError(f"{where}.{name}", f"must name an input field, or be {ALL!r}")
    kinds = [k for k in ID_KINDS if id_kind_set(f, k)] + (["boundaries"] if f.boundaries else [])
    if len(kinds) > 1:
        raise ConfigError(
            where,
            f"expected at most one of {', '.join(ID_KINDS)}, boundaries; got {', '.join(kinds)}",
        )
    kind = kinds[0] if kinds else None
    embedded = kind is not None
    if kind in ("hash_bucket_size", "num_buckets") and getattr(f, kind) == 0:
        raise ConfigError(f"{where}.{kind}", "must be positive")
    if kind == "boundaries" and list(f.boundaries) != sorted(set(f.boundaries)):
        raise ConfigError(f"{where}.boundaries", "must be strictly increasing")
    if embedded and f.embedding_dim == 0:
        raise ConfigError(f"{where}.embedding_dim", f"must be positive with {kind}")
    if not embedded and f.HasField("embedding_dim"):
        raise ConfigError(
            f"{where}.embedding_dim", f"only used with {', '.join(ID_KINDS)} or boundaries"
        )
    ids = kind in ID_KINDS
    if f.need_discrete and not ids:
        raise ConfigError(
            f"{where}.need_discrete",
            f"the values found are ids only with {', '.join(ID_KINDS)}; set one of them",
        )
    if f.pooling not in ("sum", "mean"):
        raise ConfigError(f"{where}.pooling", f"{f.pooling!r}: expected 'sum' or 'mean'")
    if lookup and f.combiner not in COMBINERS:
        raise ConfigError(
            f"{where}.combiner", f"{f.combiner!r}: expected one of {', '.join(COMBINERS)}"
        )
    if lookup and not f.separator:
        raise ConfigError(f"{where}.separator", "must not be empty")
    if f.HasField("value_dim"):
        if ids:
            ok, what = f.value_dim in (0, 1), "0 (every id found) or 1 (the first one)"
        elif lookup and not f.boundaries:
            ok, what = f.value_dim > 0, "positive"
        else:
            ok, what = f.value_dim == 1, "1"
        if not ok:
            raise ConfigError(f"{where}.value_dim", f"{f.value_dim}: expected {what}")
    if lookup and f.value_dim > 1 and not f.value_separator:
        raise ConfigError(f"{where}.value_separator", "must not be empty")
    if not ids:
        if f.HasField("normalizer"):
            if f.boundaries:
                raise ConfigError(f"{where}.normalizer", "applies to dense values only")
            try:
                parse_normalizer(f.normalizer)
            except ValueError as e:
                raise ConfigError(f"{where}.normalizer", str(e)) from None
        try:
            float(f.default_value)
        except ValueError:
            raise ConfigError(
                f"{where}.default_value", f"{f.default_value!r} is not a number"
            ) from None
    elif f.HasField("normalizer"):
        raise ConfigError(f"{where}.normalizer", "applies to numbers only, not to ids")


def id_kind_set(f, kind: str) -> bool:
    """Whether id kind `kind` is set on a lookup/match feature."""
    if kind in ("vocab_list", "vocab_dict"):
        return bool(getattr(f, kind))
    return f.HasField(kind)
