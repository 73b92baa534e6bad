"""sequence_match_feature in the config: its checks, and the columns and sequence it reads.
Imports no TensorFlow.

A ``sequence_match_feature { feature_name: "cate_match" query: "cate_id" sequence:
"click_50_seq__cate_id" windows: [5, 50] }`` names two other features: the query (an
id_feature or raw_feature) and the sequence (a sequence's sub-feature, or a
sequence_id_feature / sequence_raw_feature); it reads their columns.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features.sequence_config import SequenceEntry, sequence_entries

KIND = "sequence_match_feature"


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


def _column(proto) -> str:
    if proto.HasField("expression"):
        return proto.expression.split(":", 1)[-1]
    return proto.feature_name


def _multi(proto) -> bool:
    """Whether an id/raw feature's value holds several values (a separator, value_dim)."""
    if "value_dim" in proto.DESCRIPTOR.fields_by_name:
        return proto.value_dim > 1
    return proto.HasField("separator")


def resolve(f, feature_configs) -> tuple[str, SequenceEntry]:
    """(query column, sequence entry) of a valid SequenceMatchFeature `f`."""
    query = _query_protos(feature_configs)[f.query]
    entry = next(e for e in sequence_entries(feature_configs) if e.name == f.sequence)
    return _column(query), entry


def sequence_match_inputs(f) -> list:
    """The columns a SequenceMatchFeature reads on its own: none (it reads its query's and
    sequence's, which their features check)."""
    return []


def validate_sequence_match_features(config) -> dict[str, object]:
    """Checks that each sequence_match_feature names an id/raw query feature and a
    sequence feature, neither with several values.

    Returns:
        The sequence_match_feature protos by feature name.

    Raises:
        ConfigError: naming the first bad field.
    """
    queries = _query_protos(config.feature_configs)
    sequences = {e.name: e for e in sequence_entries(config.feature_configs)}
    protos = {}
    for i, fc in enumerate(config.feature_configs):
        if fc.WhichOneof("feature") != KIND:
            continue
        f = fc.sequence_match_feature
        where = f"feature_configs[{i}].{KIND}"
        if f.query not in queries:
            raise ConfigError(
                f"{where}.query",
                f"unknown feature {f.query!r}; expected the feature_name of an id_feature "
                "or raw_feature",
            )
        if _multi(queries[f.query]):
            raise ConfigError(
                f"{where}.query",
                f"{f.query!r} holds several values per row (separator or value_dim); a "
                "query needs one",
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
                f"{f.sequence!r} holds several values per item (separator); its items "
                "need one each",
            )
        protos[f.feature_name] = f
    return protos
