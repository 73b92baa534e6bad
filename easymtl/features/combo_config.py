"""combo_feature in the config: the columns it reads and the checks of config
validation. Imports no TensorFlow."""

from __future__ import annotations

from easymtl.errors import ConfigError


def combo_columns(proto) -> list[str]:
    """The input fields a ComboFeature crosses, in order."""
    return [e.split(":", 1)[-1] for e in proto.expression]


def validate_combo_features(config, fields: set[str], names: set[str]) -> dict:
    """Checks the combo_features of `config` against the input `fields` and the feature
    `names` seen so far.

    Args:
        config: The PipelineConfig.
        fields: The input field names.
        names: The names of the other features.

    Returns:
        The combo features' protos by name.

    Raises:
        ConfigError: naming the first bad field.
    """
    from easymtl.features.sequence_config import num_ids, sequence_entries

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
        if len(f.expression) < 2:
            raise ConfigError(f"{where}.expression", "a combo_feature crosses two or more inputs")
        for j, column in enumerate(combo_columns(f)):
            if column not in fields:
                raise ConfigError(
                    f"{where}.expression[{j}]",
                    f"reads input field {column!r}, which is not in data_config.input_fields",
                )
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
        table = f.embedding_name if f.HasField("embedding_name") else f"{f.feature_name}_emb"
        rows = f.hash_bucket_size if f.HasField("hash_bucket_size") else len(f.vocab_list) + 1
        first = tables.setdefault(table, (rows, f.embedding_dim))
        if first != (rows, f.embedding_dim):
            raise ConfigError(
                f"{where}.embedding_name",
                f"shares table {table!r} of {first[0]} rows x {first[1]} dims but needs "
                f"{rows} x {f.embedding_dim}",
            )
        protos[f.feature_name] = f
    return protos
