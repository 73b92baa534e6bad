"""What every feature kind shares: the column a feature reads, its embedding table's name
and rows, and the record a kind's builder returns. Imports no TensorFlow."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from easymtl.features.vocab import proto_vocabulary


def input_name(feature) -> str:
    """The input field a feature reads: its expression's field, else its name."""
    if feature.HasField("expression"):
        return feature.expression.split(":", 1)[-1]
    return feature.feature_name


def table_name(feature) -> str:
    """The embedding table of a feature: its embedding_name, else ``<feature_name>_emb``
    (as TorchEasyRec names it)."""
    if feature.HasField("embedding_name"):
        return feature.embedding_name
    return f"{feature.feature_name}_emb"


def num_ids(proto) -> int | None:
    """Rows of the embedding table an id/raw (or sequence id/raw) feature needs: its zch
    (or dynamicemb) size, buckets, vocabulary rows or boundaries + 1; None for a dense value."""
    fields = proto.DESCRIPTOR.fields_by_name
    if "zch" in fields and proto.HasField("zch"):
        return proto.zch.zch_size
    if "dynamicemb" in fields and proto.HasField("dynamicemb"):
        return proto.dynamicemb.max_capacity + 1  # row 0: the ids without a row
    for name in ("hash_bucket_size", "num_buckets"):
        if name in fields and proto.HasField(name):
            return getattr(proto, name)
    if "vocab_list" in fields:
        vocabulary = proto_vocabulary(proto)
        if vocabulary is not None:
            return vocabulary.rows
    return len(proto.boundaries) + 1 if "boundaries" in fields and proto.boundaries else None


def _has(proto, name: str) -> bool:
    return name in proto.DESCRIPTOR.fields_by_name and proto.HasField(name)


def zch_kind(proto) -> str | None:
    """ "zch" or "dynamicemb": which of the two (each served by a zch table) a feature
    message sets; None for neither (or a kind that has neither field)."""
    return next((k for k in ("zch", "dynamicemb") if _has(proto, k)), None)


def _value_dim(proto) -> int:
    """Numbers per value: a raw feature's, a numeric lookup's (value_dim > 1), else 1."""
    if proto.DESCRIPTOR.name in ("RawFeature", "LookupFeature"):
        return max(proto.value_dim, 1)
    return 1


@dataclass(frozen=True)
class BuiltFeature:
    """One feature's Keras layer and how the input layer wires it (what a kind's builder
    returns, one per feature it makes).

    Attributes:
        name: The feature's name, as feature groups name it.
        layer: Its Keras layer, called on its column (or the list of its columns).
        columns: The input column it reads, or the columns, in the layer's order.
        dim: Its embedding dimension; None where the layer's values are dense.
        table: Its embedding table's name (None for dense values).
        pooling: How its ids' embeddings pool: "sum" or "mean".
        sequence: The sequence_name of the sequence_feature it belongs to, or None.
        dense_embedding: The layer that embeds its dense value (mlp, autodis), or None.
        trainable: Whether its table trains (the message's ``trainable``).
    """

    name: str
    layer: object
    columns: str | list[str]
    dim: int | None = None
    table: str | None = None
    pooling: str = "sum"
    sequence: str | None = None
    dense_embedding: object = None
    trainable: bool = True


def one_feature(proto, layer, dim: int | None, columns=None) -> list[BuiltFeature]:
    """The BuiltFeature list of a kind making one feature from message `proto`: named
    by its feature_name, reading `columns` (default: :func:`input_name`), embedded in
    :func:`table_name` with its pooling where `dim` is not None; a dense value with an
    ``mlp`` or ``autodis`` block gets its dense embedding layer."""
    from easymtl.features.dense_embedding import dense_embedding_layer

    dense_embedding = dense_embedding_layer(proto, _value_dim(proto)) if dim is None else None
    if dim is None and dense_embedding is None and _has(proto, "embedding_dim"):
        logging.getLogger(__name__).info(
            "feature %r: embedding_dim is not used (a dense value without boundaries, mlp "
            "or autodis), as in TorchEasyRec",
            proto.feature_name,
        )
    return [
        BuiltFeature(
            name=proto.feature_name,
            layer=layer,
            columns=input_name(proto) if columns is None else columns,
            dim=dim,
            table=table_name(proto) if dim is not None else None,
            # A kind without a pooling field (a bucketized raw feature) has one id per row.
            pooling=getattr(proto, "pooling", "sum"),
            dense_embedding=dense_embedding,
            trainable=getattr(proto, "trainable", True),
        )
    ]
