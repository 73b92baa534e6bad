"""Features: the registry of feature kinds and the builder of the model's input layer.

A feature kind is an entry of FeatureConfig's `feature` oneof, registered with:

- its builder ``build(sub-message) -> (layer, embedding_dim or None)`` (in the kind's
  own file, with its Keras layer; imported when the model is built);
- ``check(sub-message, field path)``: its config checks (ConfigError), run at validation
  without TensorFlow;
- ``table(sub-message) -> (rows, dim) or None``: the embedding table it needs, so that
  validation can compare features that share one.

Adding a kind: its file here (layer + builder), its message and oneof line in
protos/feature.proto, and one ``FEATURES.register`` line (with its check) below.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features.normalizer import parse_normalizer
from easymtl.registry import Registry

FEATURES = Registry("feature kind")


def input_name(feature) -> str:
    """The input field an id/raw feature reads: its expression's field, else its name."""
    if feature.HasField("expression"):
        return feature.expression.split(":", 1)[-1]
    return feature.feature_name


def table_name(feature) -> str:
    """The embedding table of a feature: its embedding_name, else ``<feature_name>_emb``
    (as TorchEasyRec names it)."""
    if feature.HasField("embedding_name"):
        return feature.embedding_name
    return f"{feature.feature_name}_emb"


def check_id_feature(f, where: str) -> None:
    kinds = [k for k in ("hash_bucket_size", "num_buckets") if f.HasField(k)]
    kinds += ["vocab_list"] if f.vocab_list else []
    if len(kinds) != 1:
        raise ConfigError(
            where,
            "expected exactly one of hash_bucket_size, num_buckets, vocab_list; got "
            + (", ".join(kinds) or "none"),
        )
    if kinds[0] != "vocab_list" and getattr(f, kinds[0]) == 0:
        raise ConfigError(f"{where}.{kinds[0]}", "must be positive")
    if f.embedding_dim == 0:
        raise ConfigError(f"{where}.embedding_dim", "must be positive")
    if f.pooling not in ("sum", "mean"):
        raise ConfigError(f"{where}.pooling", f"{f.pooling!r}: expected 'sum' or 'mean'")
    if f.HasField("separator") and not f.separator:
        raise ConfigError(f"{where}.separator", "must not be empty")


def id_feature_table(f) -> tuple[int, int]:
    """(rows, dim) of an IdFeature's table: its buckets, or its vocabulary plus one row
    for values outside it."""
    if f.HasField("hash_bucket_size"):
        return f.hash_bucket_size, f.embedding_dim
    if f.HasField("num_buckets"):
        return f.num_buckets, f.embedding_dim
    return len(f.vocab_list) + 1, f.embedding_dim


def check_raw_feature(f, where: str) -> None:
    if f.value_dim != 1:
        raise ConfigError(f"{where}.value_dim", "only value_dim 1 is supported")
    if list(f.boundaries) != sorted(set(f.boundaries)):
        raise ConfigError(f"{where}.boundaries", "must be strictly increasing")
    if f.boundaries and f.embedding_dim == 0:
        raise ConfigError(f"{where}.embedding_dim", "must be positive with boundaries")
    if not f.boundaries and f.HasField("embedding_dim"):
        raise ConfigError(f"{where}.embedding_dim", "only used with boundaries")
    try:
        float(f.default_value)
    except ValueError:
        raise ConfigError(
            f"{where}.default_value", f"{f.default_value!r} is not a number"
        ) from None
    if f.HasField("normalizer"):
        try:
            parse_normalizer(f.normalizer)
        except ValueError as e:
            raise ConfigError(f"{where}.normalizer", str(e)) from None


def raw_feature_table(f) -> tuple[int, int] | None:
    """(rows, dim) of a bucketized RawFeature's table; None for a dense value."""
    return (len(f.boundaries) + 1, f.embedding_dim) if f.boundaries else None


FEATURES.register(
    "id_feature",
    "easymtl.features.id_feature:build_id_feature",
    check=check_id_feature,
    table=id_feature_table,
)
FEATURES.register(
    "raw_feature",
    "easymtl.features.raw_feature:build_raw_feature",
    check=check_raw_feature,
    table=raw_feature_table,
)


def build_feature_inputs(feature_configs, feature_groups):
    """Builds the input layer (a :class:`~easymtl.features.embedding.FeatureInputs`)
    from `feature_configs` and `model_config.feature_groups`.

    Features sharing an `embedding_name` share one table, which must then agree on rows
    and dimension.

    Raises:
        ValueError: features sharing a table disagree on its size.
    """
    from easymtl.features.embedding import EmbeddingTable, FeatureInputs

    features, input_names, tables, embeddings = {}, {}, {}, {}
    for fc in feature_configs:
        kind = fc.WhichOneof("feature")
        proto = getattr(fc, kind)
        layer, dim = FEATURES[kind](proto)
        name = proto.feature_name
        features[name] = layer
        input_names[name] = input_name(proto)
        if dim is None:
            continue
        table = table_name(proto)
        if table in tables and (tables[table].num_rows, tables[table].dim) != (layer.num_ids, dim):
            raise ValueError(
                f"Feature {name!r} shares embedding {table!r} but needs "
                f"{layer.num_ids}x{dim}, not {tables[table].num_rows}x{tables[table].dim}"
            )
        tables.setdefault(table, EmbeddingTable(layer.num_ids, dim, name=table))
        # A kind without a pooling field (a bucketized raw feature) has one id per row.
        embeddings[name] = (table, getattr(proto, "pooling", "sum"))
    groups = {g.group_name: list(g.feature_names) for g in feature_groups}
    used = {f for names in groups.values() for f in names}
    return FeatureInputs(
        features={k: v for k, v in features.items() if k in used},
        input_names={k: v for k, v in input_names.items() if k in used},
        tables={
            t: tables[t] for t in dict.fromkeys(embeddings[f][0] for f in embeddings if f in used)
        },
        embeddings={k: v for k, v in embeddings.items() if k in used},
        groups=groups,
        name="features",
    )


__all__ = [
    "FEATURES",
    "build_feature_inputs",
    "check_id_feature",
    "check_raw_feature",
    "input_name",
    "table_name",
]
