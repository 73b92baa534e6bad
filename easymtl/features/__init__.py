"""Features: the registry of feature types and the builder of the model's input layer."""

from __future__ import annotations

from collections.abc import Callable

from easymtl.features.combo_config import combo_columns
from easymtl.features.combo_feature import ComboFeature
from easymtl.features.embedding import EmbeddingTable, FeatureInputs
from easymtl.features.id_feature import IdFeature
from easymtl.features.raw_feature import RawFeature
from easymtl.features.sequence_config import (
    SEQUENCE_GROUP_TYPE,
    encoder_input,
    sequence_entries,
    sequence_group_name,
)
from easymtl.features.sequence_encoders import ENCODERS
from easymtl.features.sequence_id_feature import SequenceIdFeature
from easymtl.features.sequence_raw_feature import SequenceRawFeature

# feature_configs oneof name -> builder(sub-message) -> (layer, embedding_dim or None)
FEATURES: dict[str, Callable] = {}


def register_feature(name: str) -> Callable:
    """Registers a builder for the `name` entry of FeatureConfig's `feature` oneof."""

    def wrap(builder: Callable) -> Callable:
        FEATURES[name] = builder
        return builder

    return wrap


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


@register_feature("id_feature")
def build_id_feature(f) -> tuple[IdFeature, int]:
    layer = IdFeature(
        hash_bucket_size=f.hash_bucket_size if f.HasField("hash_bucket_size") else None,
        num_buckets=f.num_buckets if f.HasField("num_buckets") else None,
        vocab_list=list(f.vocab_list) or None,
        separator=f.separator if f.HasField("separator") else None,
        default_value=f.default_value if f.HasField("default_value") else None,
        name=f.feature_name,
    )
    return layer, f.embedding_dim


@register_feature("raw_feature")
def build_raw_feature(f) -> tuple[RawFeature, int | None]:
    layer = RawFeature(
        boundaries=list(f.boundaries),
        normalizer=f.normalizer if f.HasField("normalizer") else None,
        default_value=float(f.default_value),
        name=f.feature_name,
    )
    return layer, (f.embedding_dim if f.boundaries else None)


@register_feature("combo_feature")
def build_combo_feature(f) -> tuple[ComboFeature, int]:
    layer = ComboFeature(
        hash_bucket_size=f.hash_bucket_size if f.HasField("hash_bucket_size") else None,
        vocab_list=list(f.vocab_list) or None,
        separator=f.separator if f.HasField("separator") else None,
        default_value=f.default_value if f.HasField("default_value") else None,
        name=f.feature_name,
    )
    return layer, f.embedding_dim


@register_feature("sequence_id_feature")
def build_sequence_id_feature(f, sequence_length=None, sequence_delim=None, name=None):
    """A sequence_id_feature, or (with the sequence's length and delimiter) an
    id_feature of a sequence_feature."""
    layer = SequenceIdFeature(
        sequence_length=sequence_length or f.sequence_length,
        sequence_delim=sequence_delim or f.sequence_delim,
        hash_bucket_size=f.hash_bucket_size if f.HasField("hash_bucket_size") else None,
        num_buckets=f.num_buckets if f.HasField("num_buckets") else None,
        vocab_list=list(f.vocab_list) or None,
        separator=f.separator if f.HasField("separator") else None,
        default_value=(
            f.default_value if f.HasField("default_value") or sequence_length is None else None
        ),
        name=name or f.feature_name,
    )
    return layer, f.embedding_dim


@register_feature("sequence_raw_feature")
def build_sequence_raw_feature(f, sequence_length=None, sequence_delim=None, name=None):
    """A sequence_raw_feature, or (with the sequence's length and delimiter) a
    raw_feature of a sequence_feature."""
    layer = SequenceRawFeature(
        sequence_length=sequence_length or f.sequence_length,
        sequence_delim=sequence_delim or f.sequence_delim,
        boundaries=list(f.boundaries),
        normalizer=f.normalizer if f.HasField("normalizer") else None,
        default_value=float(f.default_value),
        name=name or f.feature_name,
    )
    return layer, (f.embedding_dim if f.boundaries else None)


def _sequence_layers(feature_configs):
    """(name, column, table, pooling, layer, dim, sequence_name) of each sequence feature."""
    for e in sequence_entries(feature_configs):
        kind = "sequence_id_feature" if e.kind == "id" else "sequence_raw_feature"
        layer, dim = FEATURES[kind](e.proto, e.sequence_length, e.sequence_delim, e.name)
        pooling = e.proto.pooling if e.kind == "id" else "sum"
        yield e.name, e.column, e.table, pooling, layer, dim, e.sequence


def build_feature_inputs(feature_configs, feature_groups) -> FeatureInputs:
    """Builds the input layer from `feature_configs` and `model_config.feature_groups`.

    Features sharing an `embedding_name` share one table, which must then agree on rows
    and dimension; a sequence_feature's sub-feature ``x`` uses the table of feature
    ``x`` (see :mod:`easymtl.features.sequence_config`).

    Raises:
        ValueError: features sharing a table disagree on its size.
    """
    entries = []  # (name, column, table or None, pooling, layer, dim, sequence name)
    for fc in feature_configs:
        kind = fc.WhichOneof("feature")
        if kind not in ("id_feature", "raw_feature", "combo_feature"):
            continue
        proto = getattr(fc, kind)
        layer, dim = FEATURES[kind](proto)
        pooling = proto.pooling if kind != "raw_feature" else "sum"
        table = table_name(proto) if dim is not None else None
        column = combo_columns(proto) if kind == "combo_feature" else input_name(proto)
        entries.append((proto.feature_name, column, table, pooling, layer, dim, None))
    entries += list(_sequence_layers(feature_configs))

    features, input_names, tables, embeddings, aligned = {}, {}, {}, {}, {}
    for name, column, table, pooling, layer, dim, sequence in entries:
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
        tables.setdefault(table, EmbeddingTable(layer.num_ids, dim, name=table))
        embeddings[name] = (table, pooling)

    groups, sequence_groups, encoders, group_encoders = {}, {}, {}, {}
    for g in feature_groups:
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
    used = set(layer.used_features())
    return FeatureInputs(
        features={k: v for k, v in features.items() if k in used},
        input_names={k: v for k, v in input_names.items() if k in used},
        tables={
            t: tables[t] for t in dict.fromkeys(embeddings[f][0] for f in embeddings if f in used)
        },
        embeddings={k: v for k, v in embeddings.items() if k in used},
        groups=groups,
        sequence_groups={
            seq: names
            for seq, names in sequence_groups.items()
            if any(seq == s for pairs in group_encoders.values() for _, s in pairs)
        },
        encoders=encoders,
        group_encoders=group_encoders,
        aligned={
            seq: [n for n in names if n in used]
            for seq, names in aligned.items()
            if any(n in used for n in names)
        },
        name="features",
    )


__all__ = [
    "ComboFeature",
    "FEATURES",
    "EmbeddingTable",
    "FeatureInputs",
    "IdFeature",
    "RawFeature",
    "SequenceIdFeature",
    "SequenceRawFeature",
    "build_feature_inputs",
    "input_name",
    "register_feature",
    "table_name",
]
