"""What lookup_feature and match_feature share in the config: their tables and the
checks of the values they find. Imports no TensorFlow.

Both find values in a map column; the values become ids (with an id kind:
hash_bucket_size, num_buckets, vocab_list or vocab_dict), a bucketized number (with
boundaries) or a dense number.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features.checks import (
    check_boundaries,
    check_data_type,
    check_embedding,
    check_normalizer,
    check_number,
    check_pooling,
    check_positive,
)
from easymtl.features.vocab import proto_vocabulary

ID_KINDS = ("hash_bucket_size", "num_buckets", "vocab_list", "vocab_dict")
# A match_feature's pkey or skey that matches every key.
ALL = "ALL"


def field_of(expression: str) -> str:
    """The input field of an expression "side:field" (or "field")."""
    return expression.split(":", 1)[-1]


def check_input_fields(f, where: str, names: tuple[str, ...], all_ok: bool = False) -> None:
    """Each of the expression fields `names` of `f` names an input field (or, with
    `all_ok`, is "ALL")."""
    for name in names:
        if not field_of(getattr(f, name)):
            what = f", or be {ALL!r}" if all_ok else ""
            raise ConfigError(f"{where}.{name}", f"must name an input field{what}")


def id_kind(proto) -> str | None:
    """The id kind a lookup/match feature's values take, or None (numbers)."""
    return next((k for k in ID_KINDS if id_kind_set(proto, k)), None)


def id_kind_set(f, kind: str) -> bool:
    """Whether id kind `kind` is set on a lookup/match feature."""
    if kind in ("vocab_list", "vocab_dict"):
        return bool(getattr(f, kind))
    return f.HasField(kind)


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


def value_kind(f, where: str) -> str | None:
    """What the values found become: an id kind, "boundaries", or None (a dense number);
    at most one may be set."""
    kinds = [k for k in ID_KINDS if id_kind_set(f, k)] + (["boundaries"] if f.boundaries else [])
    if len(kinds) > 1:
        raise ConfigError(
            where,
            f"expected at most one of {', '.join(ID_KINDS)}, boundaries; got {', '.join(kinds)}",
        )
    return kinds[0] if kinds else None


def check_map_values(f, where: str) -> str | None:
    """The checks of what a LookupFeature's or MatchFeature's values become; returns
    :func:`value_kind`."""
    kind = value_kind(f, where)
    if kind in ("hash_bucket_size", "num_buckets"):
        check_positive(f, kind, where)
    dense = f.WhichOneof("dense_emb")
    if dense and kind in ID_KINDS:
        raise ConfigError(f"{where}.{dense}", "embeds a number; the values found are ids")
    if kind == "boundaries" or dense:
        check_boundaries(f, where)
        check_embedding(f, where, f.value_dim if f.HasField("value_dim") else 1)
    elif kind is not None:
        check_positive(f, "embedding_dim", where, f"with {kind}")
    if f.need_discrete and kind not in ID_KINDS:
        raise ConfigError(
            f"{where}.need_discrete",
            f"the values found are ids only with {', '.join(ID_KINDS)}; set one of them",
        )
    check_pooling(f, where)
    check_data_type(f, where)
    if kind in ID_KINDS:
        if f.HasField("normalizer"):
            raise ConfigError(f"{where}.normalizer", "applies to numbers only, not to ids")
        return kind
    if f.HasField("normalizer") and f.boundaries:
        raise ConfigError(f"{where}.normalizer", "applies to dense values only")
    check_normalizer(f, where)
    check_number(f, "default_value", where)
    return kind


def check_value_dim(f, where: str, ok: bool, what: str) -> None:
    """A value_dim that is set is `ok` (else the error says `what` was expected)."""
    if f.HasField("value_dim") and not ok:
        raise ConfigError(f"{where}.value_dim", f"{f.value_dim}: expected {what}")


IDS_VALUE_DIM = "0 (every id found) or 1 (the first one)"
