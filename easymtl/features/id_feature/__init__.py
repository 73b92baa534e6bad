"""id_feature: a categorical column (ids, or a tag list with a separator) → ids hashed,
bucketed or looked up in a vocabulary, embedded and pooled (docs/features.md#id_feature).

The config side (no TensorFlow); the layer and its builder are in
:mod:`easymtl.features.id_feature.layer`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features import FEATURES
from easymtl.features.base import num_ids
from easymtl.features.checks import (
    check_data_type,
    check_one_of,
    check_pooling,
    check_positive,
    check_separator,
)
from easymtl.features.vocab import proto_vocabulary

_ID_KINDS = (
    "hash_bucket_size",
    "num_buckets",
    "vocab_list",
    "vocab_dict",
    "vocab_file",
    "zch",
    "dynamicemb",
)
_LISTS = ("vocab_list", "vocab_dict")
# dynamicemb's score strategies as zch eviction policies (easymtl.features.zch): STEP and
# TIMESTAMP both rank ids by when they were last seen (a step, or its time: the same
# order in one run).
DYNAMICEMB_POLICIES = {
    "STEP": "lru",
    "TIMESTAMP": "lru",
    "LFU": "lfu",
    "NO_EVICTION": "no_eviction",
}
_NO_VOCABULARY = ("hash_bucket_size", "num_buckets", "zch", "dynamicemb")


def _has(f, name: str) -> bool:
    """Whether message `f` has a field `name` and it is set."""
    return name in f.DESCRIPTOR.fields_by_name and f.HasField(name)


def id_kind(f, where: str) -> str:
    """Which of hash_bucket_size, num_buckets, vocab_list, vocab_dict, vocab_file, zch,
    dynamicemb an id message (IdFeature, SequenceIdFeature, ...) sets: exactly one of
    those it has."""
    choices = [k for k in _ID_KINDS if k in f.DESCRIPTOR.fields_by_name]
    kinds = [k for k in choices if (_has(f, k) if k not in _LISTS else len(getattr(f, k)))]
    return check_one_of(f, where, choices, kinds)


def check_id_feature(f, where: str) -> None:
    """The checks of one IdFeature (or SequenceIdFeature) message."""
    kind = id_kind(f, where)
    if kind == "zch":
        check_zch(f, where)
    elif kind == "dynamicemb":
        check_dynamicemb(f, where)
    elif kind in ("hash_bucket_size", "num_buckets"):
        check_positive(f, kind, where)
    if _has(f, "default_bucketize_value") and kind in _NO_VOCABULARY:
        raise ConfigError(
            f"{where}.default_bucketize_value",
            "only used with vocab_list, vocab_dict or vocab_file",
        )
    check_positive(f, "embedding_dim", where)
    check_pooling(f, where)
    check_data_type(f, where)
    check_separator(f, where)
    # Reads a vocab_file and checks default_bucketize_value against the vocabulary.
    proto_vocabulary(f, where)


def check_value_dim(f, where: str) -> None:
    """An id feature's value_dim is 0 (every id) or 1 (the first id)."""
    if _has(f, "value_dim") and f.value_dim > 1:
        raise ConfigError(
            f"{where}.value_dim", f"{f.value_dim}: expected 0 (every id) or 1 (the first id)"
        )


def check_zch(f, where: str) -> None:
    """The checks of an id feature's zch (zero-collision hash)."""
    if f.zch.zch_size < 2:
        raise ConfigError(f"{where}.zch.zch_size", "must be at least 2 (row 0 is the unknown id's)")
    for name in ("eviction_interval", "filter_freq"):
        check_positive(f.zch, name, f"{where}.zch")


def check_dynamicemb(f, where: str) -> None:
    """The checks of an id feature's dynamicemb (served by a zch table, see
    easymtl.features.zch.dynamicemb_args)."""
    d, at = f.dynamicemb, f"{where}.dynamicemb"
    check_positive(d, "max_capacity", at)
    if d.score_strategy not in DYNAMICEMB_POLICIES:
        raise ConfigError(
            f"{at}.score_strategy",
            f"{d.score_strategy!r}: expected one of {', '.join(DYNAMICEMB_POLICIES)}",
        )
    if d.init_table:
        raise ConfigError(
            f"{at}.init_table",
            "loading a table dump is not supported; start from a checkpoint "
            "(train_config.fine_tune_checkpoint) instead",
        )
    modes = [("initializer_args", d.initializer_args, ("UNIFORM", "NORMAL", "CONSTANT"))]
    modes.append(("eval_initializer_args", d.eval_initializer_args, ("CONSTANT",)))
    if d.HasField("frequency_admission_strategy"):
        admission = d.frequency_admission_strategy
        check_positive(admission, "threshold", f"{at}.frequency_admission_strategy")
        name = "frequency_admission_strategy.initializer_args"
        modes.append((name, admission.initializer_args, ("CONSTANT",)))
    for name, args, allowed in modes:
        if args.HasField("mode") and args.mode not in allowed:
            raise ConfigError(
                f"{at}.{name}.mode",
                f"{args.mode!r}: expected {' or '.join(allowed)}"
                + (" (what an id without a row reads)" if allowed == ("CONSTANT",) else ""),
            )
    if f.HasField("embedding_name"):
        raise ConfigError(
            f"{where}.embedding_name",
            "a dynamicemb table maps its own feature's ids; it cannot be shared (remove "
            "embedding_name)",
        )


def id_feature_table(f) -> tuple[int, int]:
    """(rows, dim) of an IdFeature's table: its buckets, its vocabulary's rows, or its
    zch table's."""
    return num_ids(f), f.embedding_dim


def check_plain_id_feature(f, where: str) -> None:
    """The checks of an id_feature (not in a sequence): check_id_feature's, and its
    value_dim."""
    check_id_feature(f, where)
    check_value_dim(f, where)


FEATURES.register(
    "id_feature",
    "easymtl.features.id_feature.layer:build_id_feature",
    check=check_plain_id_feature,
    table=id_feature_table,
    docs="features.md#id_feature",
)
