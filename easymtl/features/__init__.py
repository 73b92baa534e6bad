"""Features: the registry of feature kinds and the builder of the model's input layer.

A feature kind is an entry of FeatureConfig's `feature` oneof, registered with:

- its builder ``build(sub-message) -> (layer, embedding_dim or None)`` (in the kind's
  own file, with its Keras layer; imported when the model is built);
- ``check(sub-message, field path)``: its config checks (ConfigError), run at validation
  without TensorFlow;
- ``table(sub-message) -> (rows, dim) or None``: the embedding table it needs, so that
  validation can compare features that share one.

lookup_feature and match_feature read several columns, named by their ``inputs`` fact
(:mod:`easymtl.features.map_config`). combo_feature and the sequence kinds
(sequence_feature, sequence_id_feature, sequence_raw_feature) read other columns than
``input_name`` and share tables across kinds (a sequence's sub-feature ``x`` uses the
table of feature ``x``), so their names, columns and shared tables are validated on their
own, by :mod:`easymtl.features.combo_config` and :mod:`easymtl.features.sequence_config`
(which also holds ENCODERS, the sequence encoders' registry); a sequence_feature's
builder returns one ``(layer, dim)`` per sub-feature.

Adding a kind: its file here (layer + builder), its message and oneof line in
protos/feature.proto, and one ``FEATURES.register`` line (with its check) below.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features.combo_config import check_combo_feature, combo_columns, combo_feature_table
from easymtl.features.map_config import check_map_feature, map_feature_table, map_inputs
from easymtl.features.normalizer import parse_normalizer
from easymtl.features.sequence_config import (
    ENCODERS,
    SEQUENCE_GROUP_TYPE,
    SEQUENCE_KINDS,
    check_sequence_feature,
    check_sequence_id_feature,
    check_sequence_raw_feature,
    encoder_input,
    num_ids,
    sequence_entries,
    sequence_group_name,
)
from easymtl.features.sequence_match_config import (
    check_sequence_match_feature,
    sequence_match_inputs,
)
from easymtl.features.vocab import proto_vocabulary
from easymtl.features.wide import WIDE_GROUP_TYPE, wide_table_name
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
    choices = [k for k in _ID_KINDS if k in f.DESCRIPTOR.fields_by_name]
    kinds = [k for k in choices if (_has(f, k) if k not in _LISTS else len(getattr(f, k)))]
    if len(kinds) != 1:
        raise ConfigError(
            where,
            f"expected exactly one of {', '.join(choices)}; got " + (", ".join(kinds) or "none"),
        )
    if kinds[0] == "zch":
        check_zch(f, where)
    elif kinds[0] in ("hash_bucket_size", "num_buckets") and getattr(f, kinds[0]) == 0:
        raise ConfigError(f"{where}.{kinds[0]}", "must be positive")
    if _has(f, "default_bucketize_value") and kinds[0] in _NO_VOCABULARY:
        raise ConfigError(
            f"{where}.default_bucketize_value",
            "only used with vocab_list, vocab_dict or vocab_file",
        )
    if f.embedding_dim == 0:
        raise ConfigError(f"{where}.embedding_dim", "must be positive")
    if f.pooling not in ("sum", "mean"):
        raise ConfigError(f"{where}.pooling", f"{f.pooling!r}: expected 'sum' or 'mean'")
    if f.HasField("separator") and not f.separator:
        raise ConfigError(f"{where}.separator", "must not be empty")
    # Reads a vocab_file and checks default_bucketize_value against the vocabulary.
    proto_vocabulary(f, where)


_ID_KINDS = ("hash_bucket_size", "num_buckets", "vocab_list", "vocab_dict", "vocab_file", "zch")
_LISTS = ("vocab_list", "vocab_dict")
_NO_VOCABULARY = ("hash_bucket_size", "num_buckets", "zch")


def _has(f, name: str) -> bool:
    """Whether message `f` has a field `name` and it is set."""
    return name in f.DESCRIPTOR.fields_by_name and f.HasField(name)


def check_zch(f, where: str) -> None:
    """The checks of an id feature's zch (zero-collision hash)."""
    if f.zch.zch_size < 2:
        raise ConfigError(f"{where}.zch.zch_size", "must be at least 2 (row 0 is the unknown id's)")
    for name in ("eviction_interval", "filter_freq"):
        if getattr(f.zch, name) == 0:
            raise ConfigError(f"{where}.zch.{name}", "must be positive")
    if f.HasField("embedding_name"):
        raise ConfigError(
            f"{where}.embedding_name",
            "a zch table maps its own feature's ids; it cannot be shared (remove "
            "embedding_name, or use hash_bucket_size)",
        )


def id_feature_table(f) -> tuple[int, int]:
    """(rows, dim) of an IdFeature's table: its buckets, its vocabulary's rows, or its
    zch table's."""
    return num_ids(f), f.embedding_dim


def check_raw_feature(f, where: str) -> None:
    if f.value_dim == 0:
        raise ConfigError(f"{where}.value_dim", "must be positive")
    if f.value_dim > 1 and not f.separator:
        raise ConfigError(f"{where}.separator", "must not be empty")
    if f.pooling not in ("sum", "mean"):
        raise ConfigError(f"{where}.pooling", f"{f.pooling!r}: expected 'sum' or 'mean'")
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
FEATURES.register(
    "combo_feature",
    "easymtl.features.combo_feature:build_combo_feature",
    check=check_combo_feature,
    table=combo_feature_table,
)
# Features reading several columns name them with ``inputs(sub-message) -> [(field,
# column)]``; validation checks each column exists, naming the field.
FEATURES.register(
    "lookup_feature",
    "easymtl.features.lookup_feature:build_lookup_feature",
    check=check_map_feature,
    table=map_feature_table,
    inputs=map_inputs,
)
FEATURES.register(
    "match_feature",
    "easymtl.features.match_feature:build_match_feature",
    check=check_map_feature,
    table=map_feature_table,
    inputs=map_inputs,
)
# A sequence_feature's tables are its sub-features' (id_feature_table, raw_feature_table).
FEATURES.register(
    "sequence_feature",
    "easymtl.features.sequence_feature:build_sequence_feature",
    check=check_sequence_feature,
)
FEATURES.register(
    "sequence_id_feature",
    "easymtl.features.sequence_id_feature:build_sequence_id_feature",
    check=check_sequence_id_feature,
    table=id_feature_table,
)
FEATURES.register(
    "sequence_raw_feature",
    "easymtl.features.sequence_raw_feature:build_sequence_raw_feature",
    check=check_sequence_raw_feature,
    table=raw_feature_table,
)

# Reads the columns of the two features it names (easymtl.features.sequence_match_config).
FEATURES.register(
    "sequence_match_feature",
    "easymtl.features.sequence_match_feature:build_sequence_match_feature",
    check=check_sequence_match_feature,
    inputs=sequence_match_inputs,
)


def _layers(feature_configs):
    """(name, column, table or None, pooling, layer, dim, sequence name or None) of every
    feature, in config order."""
    sequences = {e.name: e for e in sequence_entries(feature_configs)}
    for fc in feature_configs:
        kind = fc.WhichOneof("feature")
        proto = getattr(fc, kind)
        if kind == "sequence_match_feature":
            from easymtl.features.sequence_match_feature import sequence_match_columns

            layer, _ = FEATURES[kind](proto, feature_configs)
            column = sequence_match_columns(proto, feature_configs)
            yield proto.feature_name, column, None, "sum", layer, None, None
            continue
        built = FEATURES[kind](proto)
        if kind in SEQUENCE_KINDS:
            for layer, dim in built if kind == "sequence_feature" else [built]:
                e = sequences[layer.name]
                pooling = e.proto.pooling if e.kind == "id" else "sum"
                yield e.name, e.column, e.table, pooling, layer, dim, e.sequence
            continue
        layer, dim = built
        inputs = FEATURES.entry(kind).inputs
        if kind == "combo_feature":
            column = combo_columns(proto)
        elif inputs is not None:
            column = [c for _, c in inputs(proto)]
        else:
            column = input_name(proto)
        # A kind without a pooling field (a bucketized raw feature) has one id per row.
        pooling = getattr(proto, "pooling", "sum")
        table = table_name(proto) if dim is not None else None
        yield proto.feature_name, column, table, pooling, layer, dim, None


def build_feature_inputs(
    feature_configs, feature_groups, wide_dim: int = 1, embedding_regularization: float = 0.0
):
    """Builds the input layer (a :class:`~easymtl.features.embedding.FeatureInputs`)
    from `feature_configs` and `model_config.feature_groups`.

    Features sharing an `embedding_name` share one table, which must then agree on rows
    and dimension; a sequence_feature's sub-feature ``x`` uses the table of feature
    ``x`` (see :mod:`easymtl.features.sequence_config`). The embedded features of WIDE
    groups get wide tables of `wide_dim` columns (see :mod:`easymtl.features.wide`).
    `embedding_regularization` is FeatureInputs' L2 penalty on the pooled embeddings.

    Raises:
        ValueError: features sharing a table disagree on its size.
    """
    from easymtl.features.embedding import EmbeddingTable, FeatureInputs
    from easymtl.features.init_fn import DEFAULT, table_initializers
    from easymtl.features.zch import ZchEmbeddingTable

    initializers = table_initializers(feature_configs, table_name)
    features, input_names, tables, embeddings, aligned = {}, {}, {}, {}, {}
    for name, column, table, pooling, layer, dim, sequence in _layers(feature_configs):
        features[name] = layer
        input_names[name] = column
        if sequence is not None:
            aligned.setdefault(sequence, []).append(name)
        if dim is None:
            continue
        if table in tables and (tables[table].num_rows, tables[table].dim) != (layer.num_ids, dim):
            raise ValueError(
                f"Feature {name!r} shares embedding {table!r} but needs "
                f"{layer.num_ids}x{dim}, not {tables[table].num_rows}x{tables[table].dim}"
            )
        zch = getattr(layer, "zch", None)
        if table in tables and (zch is not None or isinstance(tables[table], ZchEmbeddingTable)):
            raise ConfigError(
                f"feature {name!r}",
                f"shares embedding {table!r}, the zch table of another feature; a zch "
                "table maps its own feature's ids only",
            )
        if zch is not None:
            tables[table] = ZchEmbeddingTable(dim=dim, name=table, **zch)
        init = initializers.get(table, DEFAULT)
        tables.setdefault(table, EmbeddingTable(layer.num_ids, dim, initializer=init, name=table))
        embeddings[name] = (table, pooling)

    groups, sequence_groups, encoders, group_encoders = {}, {}, {}, {}
    wide_groups, wide_embeddings, wide_tables = {}, {}, {}
    for g in feature_groups:
        if g.group_type == WIDE_GROUP_TYPE:
            wide_groups[g.group_name] = list(g.feature_names)
            for name in g.feature_names:
                if name in embeddings:
                    table, pooling = embeddings[name]
                    wide = wide_table_name(table)
                    wide_tables.setdefault(
                        wide,
                        EmbeddingTable(
                            tables[table].num_rows, wide_dim, initializer="zeros", name=wide
                        ),
                    )
                    wide_embeddings[name] = (wide, pooling)
            continue
        if g.group_type == SEQUENCE_GROUP_TYPE:
            groups[g.group_name] = []
            sequence_groups[g.group_name] = list(g.feature_names)
        else:
            groups[g.group_name] = list(g.feature_names)
            for j, sg in enumerate(g.sequence_groups):
                sequence_groups[sequence_group_name(g, j)] = list(sg.feature_names)
        for k, enc in enumerate(g.sequence_encoders):
            kind = enc.WhichOneof("seq_module")
            proto = getattr(enc, kind)
            name = proto.name or f"{g.group_name}_{kind}_{k}"
            encoders[name] = ENCODERS[kind](proto, name)
            group_encoders.setdefault(g.group_name, []).append((name, encoder_input(g, proto)))
    layer = FeatureInputs(
        features=features,
        input_names=input_names,
        tables=tables,
        embeddings=embeddings,
        groups=groups,
        sequence_groups=sequence_groups,
        encoders=encoders,
        group_encoders=group_encoders,
        aligned=aligned,
        name="features",
    )
    used = set(layer.deep_features())
    every = used | {n for names in wide_groups.values() for n in names}
    read = {s for pairs in group_encoders.values() for _, s in pairs}
    return FeatureInputs(
        features={k: v for k, v in features.items() if k in every},
        input_names={k: v for k, v in input_names.items() if k in every},
        tables={
            **{
                t: tables[t]
                for t in dict.fromkeys(embeddings[f][0] for f in embeddings if f in used)
            },
            **wide_tables,
        },
        embeddings={k: v for k, v in embeddings.items() if k in used},
        groups=groups,
        sequence_groups={k: v for k, v in sequence_groups.items() if k in read},
        encoders=encoders,
        group_encoders=group_encoders,
        aligned={
            seq: [n for n in names if n in used]
            for seq, names in aligned.items()
            if any(n in used for n in names)
        },
        wide_groups=wide_groups,
        wide_embeddings=wide_embeddings,
        wide_dim=wide_dim,
        embedding_regularization=embedding_regularization,
        name="features",
    )


__all__ = [
    "ENCODERS",
    "FEATURES",
    "build_feature_inputs",
    "check_id_feature",
    "check_raw_feature",
    "input_name",
    "table_name",
]
