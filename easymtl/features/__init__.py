"""Features: the registry of feature types and the builder of the model's input layer."""

from __future__ import annotations

from collections.abc import Callable

from easymtl.features.embedding import EmbeddingTable, FeatureInputs
from easymtl.features.id_feature import IdFeature
from easymtl.features.raw_feature import RawFeature

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


def build_feature_inputs(feature_configs, feature_groups) -> FeatureInputs:
    """Builds the input layer from `feature_configs` and `model_config.feature_groups`.

    Features sharing an `embedding_name` share one table, which must then agree on rows
    and dimension.

    Raises:
        ValueError: features sharing a table disagree on its size.
    """
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
        embeddings[name] = (table, proto.pooling if kind == "id_feature" else "sum")
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
    "EmbeddingTable",
    "FeatureInputs",
    "IdFeature",
    "RawFeature",
    "build_feature_inputs",
    "input_name",
    "register_feature",
    "table_name",
]
