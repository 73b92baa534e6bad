"""What the sequence kinds share in the config (sequence_feature, sequence_id_feature,
sequence_raw_feature): their names, the columns they read, their tables, and the checks
of config validation. Imports no TensorFlow.

A ``sequence_feature { sequence_name: "s" features { id_feature { feature_name: "x" } } }``
holds the feature ``s__x``, which reads the column ``s__x`` (with ``expression:
"user:y"``, the column ``s__y``, as TorchEasyRec's grouped sequences read). Without an
``embedding_name`` of its own it embeds with the table of the id/raw feature named ``x``
(whatever that feature's table is called), else with ``x_emb``: the sequence and the
query feature it mirrors share one table. Sequence groups and their encoders are
:mod:`easymtl.features.sequence_groups` and :mod:`easymtl.features.sequence_encoders`.
"""

from __future__ import annotations

from dataclasses import dataclass

from easymtl.errors import ConfigError
from easymtl.features.base import BuiltFeature, num_ids


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


def width(proto) -> int:
    """Width of one item's (or one example's) tensor: embedding_dim, or 1 for a dense
    value."""
    if num_ids(proto) is not None:
        return proto.embedding_dim
    return max(getattr(proto, "value_dim", 1), 1)


# ------------------------------------------------------------------------- validation


def check_sequence(length: int, delim: str, where: str) -> None:
    """A sequence's sequence_length is positive and its sequence_delim not empty."""
    if length == 0:
        raise ConfigError(f"{where}.sequence_length", "must be positive")
    if not delim:
        raise ConfigError(f"{where}.sequence_delim", "must not be empty")


def check_item(proto, kind: str, where: str) -> None:
    """The checks of one sequence item's id (`kind` "id") or raw proto."""
    from easymtl.features.id_feature import check_id_feature
    from easymtl.features.raw_feature import check_raw_feature

    value_dim = getattr(proto, "value_dim", 1)
    if kind == "id" and value_dim > 1:
        raise ConfigError(
            f"{where}.value_dim",
            f"{value_dim}: expected 1 (one id per item) or 0 (an item's ids joined by separator)",
        )
    if (
        kind == "id"
        and proto.HasField("value_dim")
        and value_dim == 1
        and proto.HasField("separator")
    ):
        raise ConfigError(
            f"{where}.value_dim",
            "1 reads one id per item, but separator splits items into several; set "
            "value_dim: 0 or remove separator",
        )
    for name in ("vocab_dict", "vocab_file", "default_bucketize_value", "mlp", "autodis"):
        if name in proto.DESCRIPTOR.fields_by_name and (
            getattr(proto, name) if name == "vocab_dict" else proto.HasField(name)
        ):
            raise ConfigError(f"{where}.{name}", "is not supported in a sequence")
    (check_id_feature if kind == "id" else check_raw_feature)(proto, where)


def validate_sequence_features(
    config, fields: set[str], protos: dict[str, object], tables: dict[str, tuple]
) -> set[str]:
    """Checks what the sequence features of `config` share with the others: their names
    (against the features in `protos`), the input `fields` they read and the tables they
    share (each one's own checks are its kind's ``check``, run before); adds them to
    `protos`.

    Args:
        config: The PipelineConfig.
        fields: The input field names.
        protos: The other features' protos by name; the sequence features are added.
        tables: ``(rows, dim, feature name)`` of each table of the other features, by
            table name; the sequence features' are added.

    Returns:
        The names of the sequence features.

    Raises:
        ConfigError: naming the first bad field.
    """
    sequences: set[str] = set()
    for entry in sequence_entries(config.feature_configs):
        if entry.name in protos:
            raise ConfigError(
                f"{entry.where}.feature_name", f"duplicate feature name {entry.name!r}"
            )
        if entry.column not in fields:
            what = "expression" if entry.proto.HasField("expression") else "feature_name"
            raise ConfigError(
                f"{entry.where}.{what}",
                f"reads input field {entry.column!r}, which is not in data_config.input_fields",
            )
        if entry.table is not None:
            _check_shared_table(entry, tables)
        protos[entry.name] = entry.proto
        sequences.add(entry.name)
    return sequences


def _check_shared_table(entry: SequenceEntry, tables: dict[str, tuple]) -> None:
    shape = (num_ids(entry.proto), entry.proto.embedding_dim)
    first = tables.setdefault(entry.table, (*shape, entry.name))
    if tuple(first[:2]) != shape:
        raise ConfigError(
            f"{entry.where}.embedding_name",
            f"shares table {entry.table!r} of feature {first[2]!r} ({first[0]} rows x "
            f"{first[1]} dims) but needs {shape[0]} x {shape[1]}; give it its own "
            "embedding_name",
        )


def entry_feature(feature_configs, name: str, layer) -> BuiltFeature:
    """The BuiltFeature of sequence feature `name` of `feature_configs` (its column,
    table, pooling and sequence, from its :class:`SequenceEntry`) with its `layer`."""
    e = next(e for e in sequence_entries(feature_configs) if e.name == name)
    return BuiltFeature(
        name=e.name,
        layer=layer,
        columns=e.column,
        dim=e.proto.embedding_dim if e.table is not None else None,
        table=e.table,
        pooling=getattr(e.proto, "pooling", "sum"),
        sequence=e.sequence,
        trainable=getattr(e.proto, "trainable", True),
    )
