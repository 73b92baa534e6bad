"""Embedding tables and the layer that turns raw input columns into feature groups."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="easymtl")
class EmbeddingTable(keras.layers.Layer):
    """An embedding table looked up with ragged ids and pooled per example.

    Its gradient reaches the table as ``tf.IndexedSlices`` (only the rows looked up),
    which the row-wise sparse optimizer applies.

    Args:
        num_rows: Rows of the table.
        dim: Embedding dimension.
        initializer: Keras initializer of the table.

    Example:
        >>> table = EmbeddingTable(10, 4)
        >>> table(tf.ragged.constant([[1, 2], []], dtype=tf.int64), pooling="mean").shape
        TensorShape([2, 4])
    """

    def __init__(self, num_rows: int, dim: int, initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        if num_rows <= 0:
            raise ValueError(f"`num_rows` must be positive. Received: {num_rows}")
        if dim <= 0:
            raise ValueError(f"`dim` must be positive. Received: {dim}")
        self.num_rows = int(num_rows)
        self.dim = int(dim)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.num_rows, self.dim), initializer=self.initializer, name="embeddings"
        )

    def call(self, ids: tf.RaggedTensor, pooling: str = "sum"):
        # Gather from the tf.Variable (a ResourceGather of the rows looked up): through
        # the Keras variable's value, every step would first copy the whole table, since
        # the row-wise optimizer's sparse updates make its reads copy-on-read.
        vectors = tf.gather(self.embeddings.value, ids.flat_values)
        rows = tf.shape(ids.row_splits, out_type=tf.int64)[0] - 1
        pooled = tf.math.unsorted_segment_sum(vectors, ids.value_rowids(), rows)
        if pooling == "mean":
            counts = tf.cast(tf.maximum(ids.row_lengths(), 1), pooled.dtype)
            pooled = pooled / counts[:, None]
        return pooled

    def get_config(self):
        return {
            **super().get_config(),
            "num_rows": self.num_rows,
            "dim": self.dim,
            "initializer": keras.initializers.serialize(self.initializer),
        }


@keras.saving.register_keras_serializable(package="easymtl")
class FeatureInputs(keras.layers.Layer):
    """Raw input columns → one dense tensor per feature group.

    Args:
        features: Feature layers (:class:`IdFeature`, :class:`RawFeature`) by feature name.
        input_names: The input column each feature reads, by feature name.
        tables: Embedding tables by table name.
        embeddings: For each embedded feature, ``(table name, pooling)``; features not
            here are dense values.
        groups: Feature names of each group, in concatenation order.

    Call takes a dict of raw columns ([batch] tensors) and returns a dict of
    [batch, width] float tensors by group name. The feature layers run on the CPU, the
    embedding tables on the default device.
    """

    def __init__(
        self,
        features: dict[str, keras.layers.Layer],
        input_names: dict[str, str],
        tables: dict[str, EmbeddingTable],
        embeddings: dict[str, tuple[str, str]],
        groups: dict[str, list[str]],
        **kwargs,
    ):
        super().__init__(**kwargs)
        for group, names in groups.items():
            unknown = [n for n in names if n not in features]
            if unknown:
                raise ValueError(f"Group {group!r} names unknown features: {unknown}")
        for name, (table, _) in embeddings.items():
            if table not in tables:
                raise ValueError(f"Feature {name!r} uses unknown table {table!r}")
        self.features = dict(features)
        self.input_names = dict(input_names)
        self.tables = dict(tables)
        self.embeddings = {k: tuple(v) for k, v in embeddings.items()}
        self.groups = {k: list(v) for k, v in groups.items()}

    @property
    def used_inputs(self) -> list[str]:
        """The raw input columns read, in first-use order."""
        names = [self.input_names[f] for g in self.groups.values() for f in g]
        return list(dict.fromkeys(names))

    def build(self, input_shape=None):
        for table in self.tables.values():
            if not table.built:
                table.build()

    def call(self, inputs):
        outputs = {}
        for name in dict.fromkeys(f for g in self.groups.values() for f in g):
            # Parsing, splitting, hashing and vocabulary lookups of raw values are string
            # kernels that exist only on the CPU; the embedding lookups and the dense
            # math after them stay on the default device (a GPU where there is one).
            with tf.device("/CPU:0"):
                value = self.features[name](inputs[self.input_names[name]])
            if name in self.embeddings:
                table, pooling = self.embeddings[name]
                value = self.tables[table](value, pooling=pooling)
            outputs[name] = value
        return {
            group: tf.concat([outputs[f] for f in names], axis=-1)
            for group, names in self.groups.items()
        }

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "features": {k: serialize(v) for k, v in self.features.items()},
            "input_names": self.input_names,
            "tables": {k: serialize(v) for k, v in self.tables.items()},
            "embeddings": self.embeddings,
            "groups": self.groups,
        }

    @classmethod
    def from_config(cls, config):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        config["features"] = {k: deserialize(v) for k, v in config["features"].items()}
        config["tables"] = {k: deserialize(v) for k, v in config["tables"].items()}
        return cls(**config)
