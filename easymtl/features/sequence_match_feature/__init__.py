"""sequence_match_feature: how often and how recently the row's query value occurs in a
sequence → dense values (docs/features.md#sequence_match_feature).

The config side (no TensorFlow): its checks, and the columns and sequence it reads; the
layer and its builder are in :mod:`easymtl.features.sequence_match_feature.layer`.

A ``sequence_match_feature { feature_name: "cate_match" query: "cate_id" sequence:
"click_50_seq__cate_id" windows: [5, 50] }`` names two other features: the query (an
id_feature or raw_feature) and the sequence (a sequence's sub-feature, or a
sequence_id_feature / sequence_raw_feature); it reads their columns.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features import FEATURES
from easymtl.features.base import input_name
from easymtl.features.sequence_config import SequenceEntry, sequence_entries


def check_sequence_match_feature(f, where: str) -> None:
    """The checks of one SequenceMatchFeature message on its own."""
    if not f.windows:
        raise ConfigError(f"{where}.windows", "at least one window is needed, e.g. [5, 50]")
    if 0 in f.windows:
        raise ConfigError(f"{where}.windows", "every window needs at least one item")


def _query_protos(feature_configs) -> dict[str, object]:
    return {
        getattr(fc, kind).feature_name: getattr(fc, kind)
        for fc in feature_configs
        if (kind := fc.WhichOneof("feature")) in ("id_feature", "raw_feature")
    }


def _multi(proto) -> bool:
    """Whether an id/raw feature's value holds several values (a separator, value_dim)."""
    if proto.DESCRIPTOR.name in ("RawFeature", "SequenceRawFeature"):
        return proto.value_dim > 1
    one_id = "value_dim" in proto.DESCRIPTOR.fields_by_name and proto.value_dim == 1
    return proto.HasField("separator") and not one_id


def resolve(f, feature_configs) -> tuple[str, SequenceEntry]:
    """(query column, sequence entry) of a valid SequenceMatchFeature `f`."""
    query = _query_protos(feature_configs)[f.query]
    entry = next(e for e in sequence_entries(feature_configs) if e.name == f.sequence)
    return input_name(query), entry


def sequence_match_inputs(f) -> list:
    """The columns a SequenceMatchFeature reads on its own: none (it reads its query's and
    sequence's, which their features check)."""
    return []


def _sequence(f, sequences: dict):
    entry = sequences.get(f.sequence)
    return entry.proto if entry is not None else None


def check_sequence_match_references(f, where: str, feature_configs) -> None:
    """Checks that a sequence_match_feature names an id/raw query feature and a sequence
    feature, neither with several values (once every feature's own checks have passed).

    Raises:
        ConfigError: naming the first bad field.
    """
    queries = _query_protos(feature_configs)
    sequences = {e.name: e for e in sequence_entries(feature_configs)}
    if f.query not in queries:
        raise ConfigError(
            f"{where}.query",
            f"unknown feature {f.query!r}; expected the feature_name of an id_feature "
            "or raw_feature",
        )
    for field, proto in (("query", queries.get(f.query)), ("sequence", _sequence(f, sequences))):
        if getattr(proto, "weighted", False):
            raise ConfigError(
                f"{where}.{field}",
                f"{getattr(f, field)!r} is weighted ('id:weight' items); a "
                "sequence_match_feature compares plain values",
            )
    if _multi(queries[f.query]):
        raise ConfigError(
            f"{where}.query",
            f"{f.query!r} holds several values per row (separator or value_dim); a query needs one",
        )
    if f.sequence not in sequences:
        raise ConfigError(
            f"{where}.sequence",
            f"unknown sequence feature {f.sequence!r}; expected a sequence's sub-feature "
            "(<sequence_name>__x) or a sequence_id_feature / sequence_raw_feature",
        )
    if _multi(sequences[f.sequence].proto):
        raise ConfigError(
            f"{where}.sequence",
            f"{f.sequence!r} holds several values per item (separator); its items need one each",
        )


# Reads the columns of the two features it names (checked by `references`, which runs
# once every feature's own checks have passed).
FEATURES.register(
    "sequence_match_feature",
    "easymtl.features.sequence_match_feature.layer:build_sequence_match_feature",
    check=check_sequence_match_feature,
    inputs=sequence_match_inputs,
    references=check_sequence_match_references,
    docs="features.md#sequence_match_feature",
)
