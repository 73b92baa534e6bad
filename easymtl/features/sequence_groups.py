"""Sequence groups in the config: which features a feature group's sequence encoders
read, and the checks of config validation. Imports no TensorFlow.

A DEEP group's ``sequence_groups`` each name a sequence group (query features and the
sequence features they attend over); its ``sequence_encoders`` read them (an encoder's
``input`` names one; a group with one sequence group needs no ``input``). A SEQUENCE
group is itself one sequence group. The encoders' registry is
:data:`easymtl.features.sequence_encoders.ENCODERS`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features.sequence_config import width
from easymtl.features.sequence_encoders import ENCODERS

SEQUENCE_GROUP_TYPE = 2  # FeatureGroupType.SEQUENCE
DEEP_GROUP_TYPE = 0


def sequence_group_name(group, index: int) -> str:
    """The name of `group`'s sequence_groups[index]: its group_name, else
    ``<group_name>_seq_<index>``."""
    name = group.sequence_groups[index].group_name
    return name or f"{group.group_name}_seq_{index}"


def encoder_input(group, encoder) -> str | None:
    """The sequence group an encoder (a SeqEncoderConfig oneof member) of `group` reads:
    its input; else a SEQUENCE group itself, or the group's only sequence group; else
    None."""
    if encoder.HasField("input"):
        return encoder.input
    if group.group_type == SEQUENCE_GROUP_TYPE:
        return group.group_name
    if len(group.sequence_groups) == 1:
        return sequence_group_name(group, 0)
    return None


def validate_group_sequences(
    group, where: str, protos: dict[str, object], sequences: set[str], seen: set[str]
) -> None:
    """Checks a feature group's sequence_groups and sequence_encoders (and a SEQUENCE
    group's features).

    Args:
        group: The FeatureGroupConfig.
        where: Its field path.
        protos: Every feature's proto by name.
        sequences: The names of the sequence features.
        seen: The sequence group names of the groups before; this group's are added.

    Raises:
        ConfigError: naming the first bad field.
    """
    members = _members(group, where, sequences, seen)
    seen.update(members)
    for field, names in members.values():
        _check_members(field, names, protos, sequences)
    if group.group_type == SEQUENCE_GROUP_TYPE and not group.sequence_encoders:
        raise ConfigError(
            f"{where}.sequence_encoders",
            "a SEQUENCE group needs sequence_encoders (e.g. din_encoder { attn_mlp { ... } })",
        )
    for k, enc in enumerate(group.sequence_encoders):
        _check_encoder(group, enc, f"{where}.sequence_encoders[{k}]", members, protos, sequences)


def _members(group, where: str, sequences: set[str], seen: set[str]) -> dict:
    """``{sequence group name: (field path, feature names)}`` of `group`."""
    if group.group_type == SEQUENCE_GROUP_TYPE:
        if group.sequence_groups:
            raise ConfigError(
                f"{where}.sequence_groups",
                "a SEQUENCE group is itself the sequence group; list its features in feature_names",
            )
        return {group.group_name: (f"{where}.feature_names", list(group.feature_names))}
    for j, name in enumerate(group.feature_names):
        if name in sequences:
            raise ConfigError(
                f"{where}.feature_names[{j}]",
                f"{name!r} is a sequence feature; put it in a sequence_groups entry (read "
                "by sequence_encoders) or in a SEQUENCE group",
            )
    members: dict[str, tuple[str, list[str]]] = {}
    for j, sg in enumerate(group.sequence_groups):
        name = sequence_group_name(group, j)
        if name in members or name in seen:
            raise ConfigError(
                f"{where}.sequence_groups[{j}].group_name",
                f"duplicate sequence group name {name!r}",
            )
        members[name] = (f"{where}.sequence_groups[{j}].feature_names", list(sg.feature_names))
    if group.sequence_groups and not group.sequence_encoders:
        raise ConfigError(
            f"{where}.sequence_encoders",
            "sequence_groups need sequence_encoders (e.g. din_encoder { attn_mlp { ... } })",
        )
    return members


def rtp_name(name: str, protos) -> str | None:
    """The error of a feature `name` that no feature has but that is the name
    TorchEasyRec's RTP mode (USE_RTP=1) gives a sequence's feature,
    ``<sequence_name>_<feature_name>``; None for any other name."""
    rtp = [p for p in protos if "__" in p and p.replace("__", "_", 1) == name]
    if not rtp:
        return None
    return (
        f"unknown feature {name!r}: the name TorchEasyRec's RTP mode (USE_RTP=1) gives the "
        f"sequence feature {rtp[0]!r}; easymtl reads configs of TorchEasyRec's default "
        f"mode: write {rtp[0]!r}"
    )


def _check_members(field: str, names: list[str], protos: dict, sequences: set[str]) -> None:
    """The features of one sequence group (at `field`) exist, and one is a sequence."""
    if not names:
        raise ConfigError(field, "a sequence group needs features")
    for j, feature in enumerate(names):
        if feature not in protos:
            raise ConfigError(
                f"{field}[{j}]",
                rtp_name(feature, protos)
                or f"unknown feature {feature!r}; expected one of feature_configs' "
                "feature_name (sub-feature x of a sequence_feature is <sequence_name>__x)",
            )
        if protos[feature].DESCRIPTOR.name == "SequenceMatchFeature":
            raise ConfigError(
                f"{field}[{j}]",
                f"{feature!r} is a sequence_match_feature, numbers per row that a DEEP "
                "group reads; a sequence group holds sequence features and their queries",
            )
    if not any(f in sequences for f in names):
        raise ConfigError(field, "a sequence group needs at least one sequence feature")


def _check_encoder(group, enc, where: str, members: dict, protos: dict, sequences: set[str]):
    """The checks of one SeqEncoderConfig of `group` at `where`."""
    kind = enc.WhichOneof("seq_module")
    if kind is None:
        *first, last = ENCODERS.names()
        raise ConfigError(where, f"expected {', '.join(first)} or {last}")
    proto = getattr(enc, kind)
    where = f"{where}.{kind}"
    names = members.get(encoder_input(group, proto), (None, None))[1]
    if names is None and proto.HasField("input"):
        raise ConfigError(
            f"{where}.input",
            f"unknown sequence group {proto.input!r}; expected one of "
            + ", ".join(repr(m) for m in members),
        )
    if names is None:
        raise ConfigError(
            f"{where}.input",
            f"the group has {len(members)} sequence groups; name the one read (its group_name)",
        )
    entry = ENCODERS.entry(kind)
    if entry.query:
        _check_query(kind, where, names, protos, sequences)
    if entry.check is not None:
        entry.check(proto, where)


def _check_query(kind: str, where: str, names: list[str], protos: dict, sequences: set[str]):
    """An encoder that attends from query features has them, no wider than the sequence."""
    query = [f for f in names if f not in sequences]
    query_dim = sum(width(protos[f]) for f in query)
    sequence_dim = sum(width(protos[f]) for f in names if f in sequences)
    if not query:
        raise ConfigError(
            f"{where}.input",
            f"{kind} needs query features (e.g. the candidate's cate_id) beside the "
            "sequence features of its sequence group",
        )
    if query_dim > sequence_dim:
        raise ConfigError(
            f"{where}.input",
            f"the query features are {query_dim} wide but the sequence features "
            f"{sequence_dim}; the query must not be wider",
        )
