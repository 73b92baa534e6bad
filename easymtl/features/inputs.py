"""The feature-group builder: feature_configs and feature_groups → the model's input
layer (:class:`~easymtl.features.embedding.FeatureInputs`). It asks the FEATURES registry
for each feature's layers and knows no kind; TensorFlow is imported when it builds."""

from __future__ import annotations

from dataclasses import dataclass, field

from easymtl.errors import ConfigError
from easymtl.features.base import BuiltFeature
from easymtl.features.sequence_encoders import ENCODERS
from easymtl.features.sequence_groups import (
    SEQUENCE_GROUP_TYPE,
    encoder_input,
    sequence_group_name,
)
from easymtl.features.wide import WIDE_GROUP_TYPE, wide_table_name


def feature_layers(feature_configs) -> list[BuiltFeature]:
    """Every feature's layer and wiring, in config order (each kind's registered
    builder)."""
    from easymtl.features import FEATURES

    built = []
    for fc in feature_configs:
        kind = fc.WhichOneof("feature")
        built += FEATURES[kind](getattr(fc, kind), feature_configs)
    return built


def _tables(built: list[BuiltFeature], initializers: dict | None = None) -> tuple[dict, dict]:
    """``(tables, embeddings)``: the embedding tables by name, one per table name
    (initialized by `initializers` by table name, else TorchEasyRec's default), and
    ``(table, pooling)`` of each embedded feature.

    Raises:
        ValueError: features sharing a table disagree on its size.
        ConfigError: features sharing a table disagree on its zch or on ``trainable``.
    """
    from easymtl.features.embedding import EmbeddingTable
    from easymtl.features.init_fn import default_initializer
    from easymtl.features.zch import ZchEmbeddingTable

    initializers = initializers or {}
    tables, embeddings, zchs = {}, {}, {}
    for b in built:
        if b.dim is None:
            continue
        layer, table = b.layer, tables.get(b.table)
        if table is not None and (table.num_rows, table.dim) != (layer.num_ids, b.dim):
            raise ValueError(
                f"Feature {b.name!r} shares embedding {b.table!r} but needs "
                f"{layer.num_ids}x{b.dim}, not {table.num_rows}x{table.dim}"
            )
        if table is not None and table.trainable != b.trainable:
            first = next(f.name for f in built if f.table == b.table)
            raise ConfigError(
                f"feature {b.name!r}",
                f"trainable: {str(b.trainable).lower()}, but it shares embedding "
                f"{b.table!r} with feature {first!r}, which says "
                f"trainable: {str(table.trainable).lower()}; features sharing a table agree",
            )
        zch = getattr(layer, "zch", None)
        if zch is not None and not b.trainable:
            raise ConfigError(
                f"feature {b.name!r}",
                "trainable: false, but its table is a zch table, whose rows change with "
                "admissions; freeze a table of hash_bucket_size, num_buckets or a vocabulary",
            )
        if table is not None and zch != zchs.get(b.table):
            first = next(f.name for f in built if f.table == b.table)
            raise ConfigError(
                f"feature {b.name!r}",
                f"shares embedding {b.table!r} with feature {first!r}, and one of them "
                "has a zch (or dynamicemb): features sharing a zch table give it the same",
            )
        init = initializers.get(b.table) or default_initializer(layer.num_ids)
        if zch is not None and table is None:  # a dynamicemb's zch has its initializer
            tables[b.table] = ZchEmbeddingTable(
                dim=b.dim, name=b.table, **{"initializer": init, **zch}
            )
            zchs[b.table] = zch
        tables.setdefault(
            b.table,
            EmbeddingTable(
                layer.num_ids, b.dim, initializer=init, name=b.table, trainable=b.trainable
            ),
        )
        embeddings[b.name] = (b.table, b.pooling)
    return tables, embeddings


@dataclass
class _Groups:
    """What FeatureInputs takes about the feature groups (see its Args)."""

    groups: dict = field(default_factory=dict)
    sequence_groups: dict = field(default_factory=dict)
    encoders: dict = field(default_factory=dict)
    group_encoders: dict = field(default_factory=dict)
    wide_groups: dict = field(default_factory=dict)
    wide_embeddings: dict = field(default_factory=dict)
    wide_tables: dict = field(default_factory=dict)


def _deep_group(g, out: _Groups) -> None:
    """A DEEP or SEQUENCE group's features, sequence groups and encoders."""
    if g.group_type == SEQUENCE_GROUP_TYPE:
        out.groups[g.group_name] = []
        out.sequence_groups[g.group_name] = list(g.feature_names)
    else:
        out.groups[g.group_name] = list(g.feature_names)
        for j, sg in enumerate(g.sequence_groups):
            out.sequence_groups[sequence_group_name(g, j)] = list(sg.feature_names)
    for k, enc in enumerate(g.sequence_encoders):
        kind = enc.WhichOneof("seq_module")
        proto = getattr(enc, kind)
        name = proto.name or f"{g.group_name}_{kind}_{k}"
        out.encoders[name] = ENCODERS[kind](proto, name)
        out.group_encoders.setdefault(g.group_name, []).append((name, encoder_input(g, proto)))


def _wide_group(
    g, out: _Groups, tables: dict, embeddings: dict, wide_dim: int, initializer="zeros"
) -> None:
    """A WIDE group's features, and a wide table beside each deep table they use,
    started by `initializer` (None: as that deep table)."""
    import keras

    from easymtl.features.embedding import EmbeddingTable

    out.wide_groups[g.group_name] = list(g.feature_names)
    for name in g.feature_names:
        if name not in embeddings:
            continue
        table, pooling = embeddings[name]
        wide = wide_table_name(table)
        if wide not in out.wide_tables:
            rows = tables[table].num_rows
            # serialized: a new initializer, not the deep table's, whose draws it repeats
            init = initializer or keras.initializers.serialize(tables[table].initializer)
            out.wide_tables[wide] = EmbeddingTable(
                rows,
                wide_dim,
                initializer=init,
                name=wide,
                trainable=tables[table].trainable,
            )
        out.wide_embeddings[name] = (wide, pooling)


def build_feature_inputs(
    feature_configs,
    feature_groups,
    wide_dim: int = 1,
    embedding_regularization: float = 0.0,
    variational_dropout=None,
    wide_concat: bool = False,
    wide_initializer="zeros",
):
    """Builds the input layer (a :class:`~easymtl.features.embedding.FeatureInputs`)
    from `feature_configs` and `model_config.feature_groups`, with the features, tables
    and sequence groups the groups read.

    Features sharing an `embedding_name` share one table, which must then agree on rows
    and dimension; a sequence_feature's sub-feature ``x`` uses the table of feature
    ``x`` (see :mod:`easymtl.features.sequence_config`). The embedded features of WIDE
    groups get wide tables of `wide_dim` columns (see :mod:`easymtl.features.wide`).
    `embedding_regularization` is FeatureInputs' L2 penalty on the pooled embeddings.
    With `variational_dropout` (model_config's VariationalDropout message), each DEEP
    group of two or more parts (features and sequence encoders) gets a
    :class:`~easymtl.layers.variational_dropout.VariationalDropout`, as in TorchEasyRec.
    `wide_concat` keeps a WIDE group's features' terms apart (concatenated, as the
    rankers that read a WIDE group take it), and `wide_initializer` (a Keras
    initializer) starts the wide tables; None starts each as its deep table (a draw of
    its own from the same initializer, TorchEasyRec's wide tables).

    Raises:
        ValueError: features sharing a table disagree on its size.
    """
    from easymtl.features import table_name
    from easymtl.features.embedding import FeatureInputs
    from easymtl.features.init_fn import table_initializers

    built = feature_layers(feature_configs)
    tables, embeddings = _tables(built, table_initializers(feature_configs, table_name))
    out = _Groups()
    for g in feature_groups:
        if g.group_type == WIDE_GROUP_TYPE:
            _wide_group(g, out, tables, embeddings, wide_dim, wide_initializer)
        else:
            _deep_group(g, out)
    used = set(FeatureInputs.read_by(out.groups, out.sequence_groups, out.group_encoders))
    return FeatureInputs(
        **_features_read(built, used | {n for names in out.wide_groups.values() for n in names}),
        **_tables_read(tables, embeddings, out, used),
        groups=out.groups,
        sequence_groups=_sequence_groups_read(out),
        encoders=out.encoders,
        group_encoders=out.group_encoders,
        aligned=_aligned(built, used),
        dense_embeddings={
            b.name: b.dense_embedding
            for b in built
            if b.dense_embedding is not None and b.name in used
        },
        wide_groups=out.wide_groups,
        wide_embeddings=out.wide_embeddings,
        wide_dim=wide_dim,
        embedding_regularization=embedding_regularization,
        wide_concat=wide_concat,
        group_dropouts=_group_dropouts(feature_groups, out, variational_dropout),
        name="features",
    )


def _group_dropouts(feature_groups, out, variational_dropout) -> dict:
    """A VariationalDropout per DEEP group of two or more parts, with the option set."""
    if variational_dropout is None:
        return {}
    from easymtl.layers.variational_dropout import VariationalDropout

    dropouts = {}
    for g in feature_groups:
        if g.group_type == SEQUENCE_GROUP_TYPE or g.group_name in out.wide_groups:
            continue
        parts = out.groups[g.group_name] + [e for e, _ in out.group_encoders.get(g.group_name, [])]
        if len(parts) > 1:
            dropouts[g.group_name] = VariationalDropout(
                parts,
                variational_dropout.regularization_lambda,
                name=f"variational_dropout_{g.group_name}",
            )
    return dropouts


def _features_read(built: list[BuiltFeature], read: set[str]) -> dict:
    """The layers and columns of the features `read`, in config order."""
    return {
        "features": {b.name: b.layer for b in built if b.name in read},
        "input_names": {b.name: b.columns for b in built if b.name in read},
    }


def _tables_read(tables: dict, embeddings: dict, out: _Groups, used: set[str]) -> dict:
    """The tables of the embedded features `used` (in first-use order), then the wide
    tables, and those features' embeddings."""
    embeddings = {k: v for k, v in embeddings.items() if k in used}
    names = dict.fromkeys(table for table, _ in embeddings.values())
    return {
        "tables": {**{t: tables[t] for t in names}, **out.wide_tables},
        "embeddings": embeddings,
    }


def _sequence_groups_read(out: _Groups) -> dict:
    """The sequence groups an encoder reads."""
    read = {s for pairs in out.group_encoders.values() for _, s in pairs}
    return {k: v for k, v in out.sequence_groups.items() if k in read}


def _aligned(built: list[BuiltFeature], used: set[str]) -> dict[str, list[str]]:
    """The sub-features `used` of each sequence_feature, whose cells must hold as many
    items."""
    aligned: dict[str, list[str]] = {}
    for b in built:
        if b.sequence is not None and b.name in used:
            aligned.setdefault(b.sequence, []).append(b.name)
    return aligned
