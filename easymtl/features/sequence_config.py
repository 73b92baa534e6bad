"""Sequence features and sequence groups in the config: their names, the columns they
read, their tables, and the checks of config validation. Imports no TensorFlow.

A ``sequence_feature { sequence_name: "s" features { id_feature { feature_name: "x" } } }``
holds the feature ``s__x``, which reads the column ``s__x`` (with ``expression:
"user:y"``, the column ``s__y``, as TorchEasyRec's grouped sequences read). Without an
``embedding_name`` of its own it embeds with the table of the id/raw feature named ``x``
(whatever that feature's table is called), else with ``x_emb``: the sequence and the
query feature it mirrors share one table.

The sequence encoders are :data:`ENCODERS`, a registry from SeqEncoderConfig's
``seq_module`` oneof name to the encoder's builder (in
:mod:`easymtl.features.sequence_encoders`, imported when the model is built), with the
facts validation needs: ``query`` (the encoder attends from query features) and
``check(sub-message, field path)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from easymtl.errors import ConfigError
from easymtl.features.vocab import proto_vocabulary
from easymtl.registry import Registry

# FeatureConfig oneof names of the sequence kinds.
SEQUENCE_KINDS = ("sequence_feature", "sequence_id_feature", "sequence_raw_feature")
SEQUENCE_GROUP_TYPE = 2  # FeatureGroupType.SEQUENCE
DEEP_GROUP_TYPE = 0


@dataclass
class SequenceEntry:
    """One sequence feature of the config (a sub-feature of a sequence_feature, or a
    sequence_id_feature / sequence_raw_feature).

    Attributes:
        where: Field path of its config, for errors.
        kind: "id" or "raw".
        proto: Its IdFeature / RawFeature / SequenceIdFeature / SequenceRawFeature.
        name: Its feature name (``<sequence_name>__<feature_name>`` for a sub-feature).
        column: The input column it reads.
        table: Its embedding table, or None (dense raw values).
        sequence_length: Most items kept.
        sequence_delim: Item separator.
        sequence: The sequence_name of its sequence_feature, or None.
    """

    where: str
    kind: str
    proto: object
    name: str
    column: str
    table: str | None
    sequence_length: int
    sequence_delim: str
    sequence: str | None = None


def _field(proto) -> str:
    if proto.HasField("expression"):
        return proto.expression.split(":", 1)[-1]
    return proto.feature_name


def _table(proto) -> str | None:
    embedded = hasattr(proto, "hash_bucket_size") or bool(proto.boundaries)
    if not embedded:
        return None
    if proto.HasField("embedding_name"):
        return proto.embedding_name
    return f"{proto.feature_name}_emb"


def sequence_entries(feature_configs) -> list[SequenceEntry]:
    """The sequence features of `feature_configs`, in config order."""
    # The table of each id/raw feature, which a sub-feature of the same name shares.
    query_tables = {}
    for fc in feature_configs:
        kind = fc.WhichOneof("feature")
        if kind in ("id_feature", "raw_feature"):
            proto = getattr(fc, kind)
            query_tables[proto.feature_name] = _table(proto)
    entries = []
    for i, fc in enumerate(feature_configs):
        kind = fc.WhichOneof("feature")
        where = f"feature_configs[{i}].{kind}"
        if kind == "sequence_feature":
            seq = fc.sequence_feature
            for j, sub in enumerate(seq.features):
                sub_kind = sub.WhichOneof("feature")
                if sub_kind is None:
                    raise ConfigError(
                        f"{where}.features[{j}]",
                        "expected id_feature { ... } or raw_feature { ... }",
                    )
                proto = getattr(sub, sub_kind)
                entries.append(
                    SequenceEntry(
                        where=f"{where}.features[{j}].{sub_kind}",
                        kind="id" if sub_kind == "id_feature" else "raw",
                        proto=proto,
                        name=f"{seq.sequence_name}__{proto.feature_name}",
                        column=f"{seq.sequence_name}__{_field(proto)}",
                        table=(
                            query_tables.get(proto.feature_name) or _table(proto)
                            if not proto.HasField("embedding_name")
                            else _table(proto)
                        ),
                        sequence_length=seq.sequence_length,
                        sequence_delim=seq.sequence_delim,
                        sequence=seq.sequence_name,
                    )
                )
        elif kind in ("sequence_id_feature", "sequence_raw_feature"):
            proto = getattr(fc, kind)
            entries.append(
                SequenceEntry(
                    where=where,
                    kind="id" if kind == "sequence_id_feature" else "raw",
                    proto=proto,
                    name=proto.feature_name,
                    column=_field(proto),
                    table=_table(proto),
                    sequence_length=proto.sequence_length,
                    sequence_delim=proto.sequence_delim,
                )
            )
    return entries


def num_ids(proto) -> int | None:
    """Rows of the embedding table an id/raw (or sequence id/raw) feature needs."""
    fields = proto.DESCRIPTOR.fields_by_name
    if "zch" in fields and proto.HasField("zch"):
        return proto.zch.zch_size
    for name in ("hash_bucket_size", "num_buckets"):
        if name in fields and proto.HasField(name):
            return getattr(proto, name)
    if "vocab_list" in fields:
        vocabulary = proto_vocabulary(proto)
        if vocabulary is not None:
            return vocabulary.rows
    return len(proto.boundaries) + 1 if "boundaries" in fields and proto.boundaries else None


def width(proto) -> int:
    """Width of one item's (or one example's) tensor: embedding_dim, or 1 for a dense
    value."""
    if num_ids(proto) is not None:
        return proto.embedding_dim
    return max(getattr(proto, "value_dim", 1), 1)


# ------------------------------------------------------------------------- validation


def _check_sequence(length: int, delim: str, where: str) -> None:
    if length == 0:
        raise ConfigError(f"{where}.sequence_length", "must be positive")
    if not delim:
        raise ConfigError(f"{where}.sequence_delim", "must not be empty")


def _check_item(proto, kind: str, where: str) -> None:
    """The checks of one sequence item's id (`kind` "id") or raw proto."""
    from easymtl.features import check_id_feature, check_raw_feature

    if getattr(proto, "value_dim", 1) != 1:
        raise ConfigError(f"{where}.value_dim", "only value_dim 1 is supported in a sequence")
    for name in ("vocab_dict", "vocab_file", "default_bucketize_value", "weighted", "zch"):
        if name in proto.DESCRIPTOR.fields_by_name and (
            getattr(proto, name) if name in ("vocab_dict", "weighted") else proto.HasField(name)
        ):
            raise ConfigError(f"{where}.{name}", "is not supported in a sequence")
    (check_id_feature if kind == "id" else check_raw_feature)(proto, where)


def check_sequence_feature(f, where: str) -> None:
    """The checks of one SequenceFeature message and its sub-features."""
    if not f.sequence_name:
        raise ConfigError(f"{where}.sequence_name", "must not be empty")
    if not f.features:
        raise ConfigError(f"{where}.features", "a sequence_feature needs sub-features")
    _check_sequence(f.sequence_length, f.sequence_delim, where)
    for j, sub in enumerate(f.features):
        kind = sub.WhichOneof("feature")
        if kind is None:
            raise ConfigError(
                f"{where}.features[{j}]", "expected id_feature { ... } or raw_feature { ... }"
            )
        _check_item(getattr(sub, kind), kind.split("_")[0], f"{where}.features[{j}].{kind}")


def check_sequence_id_feature(f, where: str) -> None:
    """The checks of one SequenceIdFeature message."""
    _check_sequence(f.sequence_length, f.sequence_delim, where)
    _check_item(f, "id", where)


def check_sequence_raw_feature(f, where: str) -> None:
    """The checks of one SequenceRawFeature message."""
    _check_sequence(f.sequence_length, f.sequence_delim, where)
    _check_item(f, "raw", where)


def validate_sequence_features(
    config, fields: set[str], names: set[str]
) -> tuple[dict[str, object], set[str]]:
    """Checks what the sequence features of `config` share with the others: their names
    (against the feature `names` seen so far, the id/raw features), the input `fields`
    they read and the tables they share (each one's own checks are its kind's
    ``check``, run before).

    Args:
        config: The PipelineConfig.
        fields: The input field names.
        names: The id/raw feature names.

    Returns:
        ``(protos, sequences)``: every feature's proto by name, and the names of the
        sequence features.

    Raises:
        ConfigError: naming the first bad field.
    """
    protos: dict[str, object] = {}
    tables: dict[str, tuple[int, int, str]] = {}
    for fc in config.feature_configs:
        kind = fc.WhichOneof("feature")
        if kind in ("lookup_feature", "match_feature"):
            protos[getattr(fc, kind).feature_name] = getattr(fc, kind)
        if kind in ("id_feature", "raw_feature"):
            proto = getattr(fc, kind)
            protos[proto.feature_name] = proto
            if num_ids(proto) is not None:
                tables.setdefault(
                    _table(proto), (num_ids(proto), proto.embedding_dim, proto.feature_name)
                )
    seen = set(names)
    sequences: set[str] = set()
    for entry in sequence_entries(config.feature_configs):
        if entry.name in seen:
            raise ConfigError(
                f"{entry.where}.feature_name", f"duplicate feature name {entry.name!r}"
            )
        seen.add(entry.name)
        if entry.column not in fields:
            what = "expression" if entry.proto.HasField("expression") else "feature_name"
            raise ConfigError(
                f"{entry.where}.{what}",
                f"reads input field {entry.column!r}, which is not in data_config.input_fields",
            )
        if entry.table is not None:
            shape = (num_ids(entry.proto), entry.proto.embedding_dim)
            first = tables.setdefault(entry.table, (*shape, entry.name))
            if first[:2] != shape:
                raise ConfigError(
                    f"{entry.where}.embedding_name",
                    f"shares table {entry.table!r} of feature {first[2]!r} ({first[0]} rows x "
                    f"{first[1]} dims) but needs {shape[0]} x {shape[1]}; give it its own "
                    "embedding_name",
                )
        protos[entry.name] = entry.proto
        sequences.add(entry.name)
    return protos, sequences


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
    members: dict[str, tuple[str, list[str]]] = {}
    if group.group_type == SEQUENCE_GROUP_TYPE:
        if group.sequence_groups:
            raise ConfigError(
                f"{where}.sequence_groups",
                "a SEQUENCE group is itself the sequence group; list its features in feature_names",
            )
        members[group.group_name] = (f"{where}.feature_names", list(group.feature_names))
    else:
        for j, name in enumerate(group.feature_names):
            if name in sequences:
                raise ConfigError(
                    f"{where}.feature_names[{j}]",
                    f"{name!r} is a sequence feature; put it in a sequence_groups entry (read "
                    "by sequence_encoders) or in a SEQUENCE group",
                )
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
    seen.update(members)
    for field, names in members.values():
        if not names:
            raise ConfigError(field, "a sequence group needs features")
        for j, feature in enumerate(names):
            if feature not in protos:
                raise ConfigError(
                    f"{field}[{j}]",
                    f"unknown feature {feature!r}; expected one of feature_configs' "
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
    if group.group_type == SEQUENCE_GROUP_TYPE and not group.sequence_encoders:
        raise ConfigError(
            f"{where}.sequence_encoders",
            "a SEQUENCE group needs sequence_encoders (e.g. din_encoder { attn_mlp { ... } })",
        )
    for k, enc in enumerate(group.sequence_encoders):
        kind = enc.WhichOneof("seq_module")
        ew = f"{where}.sequence_encoders[{k}]"
        if kind is None:
            *first, last = ENCODERS.names()
            raise ConfigError(ew, f"expected {', '.join(first)} or {last}")
        proto = getattr(enc, kind)
        ew = f"{ew}.{kind}"
        names = members.get(encoder_input(group, proto), (None, None))[1]
        if names is None and proto.HasField("input"):
            raise ConfigError(
                f"{ew}.input",
                f"unknown sequence group {proto.input!r}; expected one of "
                + ", ".join(repr(m) for m in members),
            )
        if names is None:
            raise ConfigError(
                f"{ew}.input",
                f"the group has {len(members)} sequence groups; name the one read (its group_name)",
            )
        query = [f for f in names if f not in sequences]
        query_dim = sum(width(protos[f]) for f in query)
        sequence_dim = sum(width(protos[f]) for f in names if f in sequences)
        entry = ENCODERS.entry(kind)
        if entry.query:
            if not query:
                raise ConfigError(
                    f"{ew}.input",
                    f"{kind} needs query features (e.g. the candidate's cate_id) beside the "
                    "sequence features of its sequence group",
                )
            if query_dim > sequence_dim:
                raise ConfigError(
                    f"{ew}.input",
                    f"the query features are {query_dim} wide but the sequence features "
                    f"{sequence_dim}; the query must not be wider",
                )
        if entry.check is not None:
            entry.check(proto, ew)


def check_pooling_encoder(proto, where: str) -> None:
    if proto.pooling_type not in ("sum", "mean"):
        raise ConfigError(
            f"{where}.pooling_type", f"{proto.pooling_type!r}: expected 'sum' or 'mean'"
        )


def check_multi_window_din_encoder(proto, where: str) -> None:
    if not proto.windows_len:
        raise ConfigError(f"{where}.windows_len", "at least one window is needed")
    if 0 in proto.windows_len:
        raise ConfigError(f"{where}.windows_len", "every window needs at least one position")


_BUILDERS = "easymtl.features.sequence_encoders"
ENCODERS = Registry("sequence encoder")
ENCODERS.register("din_encoder", f"{_BUILDERS}:build_din", query=True)
ENCODERS.register("simple_attention", f"{_BUILDERS}:build_simple_attention", query=True)
ENCODERS.register("pooling_encoder", f"{_BUILDERS}:build_pooling", check=check_pooling_encoder)
ENCODERS.register(
    "multi_window_din_encoder",
    f"{_BUILDERS}:build_multi_window_din",
    query=True,
    check=check_multi_window_din_encoder,
)


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
