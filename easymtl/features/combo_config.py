"""combo_feature in the config: the columns it reads and the checks of config
validation. Imports no TensorFlow."""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features.sequence_config import num_ids, sequence_entries


def combo_columns(proto) -> list[str]:
    """The input fields a ComboFeature crosses, in order."""
    return [e.split(":", 1)[-1] for e in proto.expression]


def check_combo_feature(f, where: str) -> None:
    """The checks of one ComboFeature message."""
    if len(f.expression) < 2:
        raise ConfigError(f"{where}.expression", "a combo_feature crosses two or more inputs")
    kinds = (["hash_bucket_size"] if f.HasField("hash_bucket_size") else []) + (
        ["vocab_list"] if f.vocab_list else []
    )
    if len(kinds) != 1:
        raise ConfigError(
            where,
            "expected exactly one of hash_bucket_size, vocab_list; got "
            + (", ".join(kinds) or "none"),
        )
    for name in ("hash_bucket_size", "embedding_dim"):
        if getattr(f, name) == 0 and (name == "embedding_dim" or f.HasField(name)):
            raise ConfigError(f"{where}.{name}", "must be positive")
    if f.pooling not in ("sum", "mean"):
        raise ConfigError(f"{where}.pooling", f"{f.pooling!r}: expected 'sum' or 'mean'")
    if f.HasField("separator") and not f.separator:
        raise ConfigError(f"{where}.separator", "must not be empty")


def combo_feature_table(f) -> tuple[int, int]:
    """(rows, dim) of a ComboFeature's table: its buckets, or its vocabulary plus one row
    for crossed values outside it."""
    rows = f.hash_bucket_size if f.HasField("hash_bucket_size") else len(f.vocab_list) + 1
    return rows, f.embedding_dim


def validate_combo_features(config, fields: set[str], names: set[str]) -> dict:
    """Checks what the combo_features of `config` share with the others: their names
    (against the feature `names` seen so far), the input `fields` they read and the
    tables they share (each one's own checks are :func:`check_combo_feature`, run
    before).

    Args:
        config: The PipelineConfig.
        fields: The input field names.
        names: The names of the other features.

    Returns:
        The combo features' protos by name.

    Raises:
        ConfigError: naming the first bad field.
    """
    tables = {}
    for fc in config.feature_configs:
        kind = fc.WhichOneof("feature")
        if kind in ("id_feature", "raw_feature") and num_ids(getattr(fc, kind)) is not None:
            f = getattr(fc, kind)
            name = f.embedding_name if f.HasField("embedding_name") else f"{f.feature_name}_emb"
            tables.setdefault(name, (num_ids(f), f.embedding_dim))
    for e in sequence_entries(config.feature_configs):
        if e.table is not None:
            tables.setdefault(e.table, (num_ids(e.proto), e.proto.embedding_dim))
    protos = {}
    for i, fc in enumerate(config.feature_configs):
        if fc.WhichOneof("feature") != "combo_feature":
            continue
        f = fc.combo_feature
        where = f"feature_configs[{i}].combo_feature"
        if f.feature_name in names or f.feature_name in protos:
            raise ConfigError(f"{where}.feature_name", f"duplicate feature name {f.feature_name!r}")
        for j, column in enumerate(combo_columns(f)):
            if column not in fields:
                raise ConfigError(
                    f"{where}.expression[{j}]",
                    f"reads input field {column!r}, which is not in data_config.input_fields",
                )
        table = f.embedding_name if f.HasField("embedding_name") else f"{f.feature_name}_emb"
        rows, dim = combo_feature_table(f)
        first = tables.setdefault(table, (rows, dim))
        if first != (rows, dim):
            raise ConfigError(
                f"{where}.embedding_name",
                f"shares table {table!r} of {first[0]} rows x {first[1]} dims but needs "
                f"{rows} x {dim}",
            )
        protos[f.feature_name] = f
    return protos
