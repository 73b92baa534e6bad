"""Embedding tables and the layer that turns raw input columns into feature groups."""

from __future__ import annotations

import keras
import tensorflow as tf


def _clip_gradient(x: tf.Tensor, limit: float | None) -> tf.Tensor:
    """`x`, whose gradient is clipped elementwise to [-limit, limit] (None: `x` as is)."""
    if limit is None:
        return x

    @tf.custom_gradient
    def clipped(y):
        return tf.identity(y), lambda dy: tf.clip_by_value(dy, -limit, limit)

    return clipped(x)


@tf.custom_gradient
def _segment_sum(data: tf.Tensor, segment_ids: tf.Tensor, num_segments: tf.Tensor):
    """``tf.math.unsorted_segment_sum`` of segment ids that are all in [0, num_segments)
    (the value row ids of ragged ids), whose gradient is one gather. TensorFlow's
    handles negative ids, which the sum drops: 22 traced operations per feature and
    train step (a third of a pooled feature's train-step graph) for a case that never
    comes here. In training only: the custom gradient costs two operations where no
    gradient is taken (evaluation, serving)."""

    def gradient(upstream):
        return tf.gather(upstream, segment_ids), None, None

    return tf.math.unsorted_segment_sum(data, segment_ids, num_segments), gradient


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
        # Set only while an export traces its serving function with the table stored in
        # less precision (easymtl.export.quantize): ids [n] -> float32 rows [n, dim].
        self.serving_rows = None
        # Set by the training state from the sparse optimizer's gradient_clipping: each
        # element of the gradient of an embedding looked up is clipped to +-max_gradient.
        self.max_gradient = None

    def rows(self, ids) -> tf.Tensor:
        """The rows [n, dim] of the table at `ids` [n]."""
        if self.serving_rows is not None:
            return self.serving_rows(ids)
        # Gather from the tf.Variable (a ResourceGather of the rows looked up): through
        # the Keras variable's value, every step would first copy the whole table, since
        # the row-wise optimizer's sparse updates make its reads copy-on-read. A table
        # sharded over parameter servers (its value a ShardedVariable) gathers each
        # shard's rows where the shard is.
        return tf.nn.embedding_lookup(self.embeddings.value, ids)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.num_rows, self.dim), initializer=self.initializer, name="embeddings"
        )

    def call(
        self, ids: tf.RaggedTensor, pooling: str = "sum", weights=None, steps=None, training=None
    ):
        """Pooled embeddings [batch, dim] of ragged `ids` [batch, (ids)]; with ragged
        `weights` (shaped as `ids`) each embedding is scaled by its weight first ("mean"
        still divides by the number of ids). Sequence ids [batch, (items), (ids)] (and
        their weights) give [batch, steps, dim]: each item's ids pooled in its place,
        zeros after a row's last item; items from `steps` on are left out (default: the
        longest row's)."""
        if ids.ragged_rank == 2:
            return self._per_item(ids, pooling, steps, weights)
        # A pooled feature's embedding is what TorchEasyRec's (fbgemm's) table outputs,
        # whose gradient gradient_clipping clips; in a sequence each id's is (below).
        return _clip_gradient(self._pooled(ids, pooling, weights, training), self.max_gradient)

    def _pooled(self, ids: tf.RaggedTensor, pooling: str, weights=None, training=None):
        """[batch, dim]: each row's ids' embeddings (times their weights) pooled; in
        training by a segment sum whose gradient is one gather (:func:`_segment_sum`)."""
        vectors = self.rows(ids.flat_values)
        if weights is not None:
            vectors = vectors * tf.cast(weights.flat_values, vectors.dtype)[:, None]
        # nrows: held by a ragged tensor made from value row ids, as the ids are.
        segment_sum = _segment_sum if training else tf.math.unsorted_segment_sum
        pooled = segment_sum(vectors, ids.value_rowids(), ids.nrows())
        if pooling == "mean":
            counts = tf.cast(tf.maximum(ids.row_lengths(), 1), pooled.dtype)
            pooled = pooled / counts[:, None]
        return pooled

    def _per_item(self, ids: tf.RaggedTensor, pooling: str, steps, weights=None):
        """[batch, steps, dim] of sequence ids: the rows looked up are summed straight
        into their items' places (one segment sum over batch x steps places), so that
        neither a pooling per item nor a ragged-to-dense copy of the vectors (nor their
        gradients) runs. gradient_clipping clips each id's vector's gradient (TorchEasyRec
        looks a sequence's ids up one by one and pools an item's after)."""
        vectors = _clip_gradient(self.rows(ids.flat_values), self.max_gradient)
        if weights is not None:
            vectors = vectors * tf.cast(weights.flat_values, vectors.dtype)[:, None]
        item = ids.values.value_rowids()  # the item of each id
        row = ids.value_rowids()  # the row of each item
        position = tf.range(tf.shape(row, out_type=tf.int64)[0]) - tf.gather(ids.row_splits, row)
        if steps is None:
            steps = tf.reduce_max(tf.concat([ids.row_lengths(), [0]], axis=0))
        steps = tf.cast(steps, tf.int64)
        # Places from `steps` on get -1, which the segment sum drops.
        place = tf.where(position < steps, row * steps + position, -tf.ones_like(row))
        place = tf.gather(place, item)
        places = ids.nrows() * steps
        out = tf.math.unsorted_segment_sum(vectors, place, places)
        if pooling == "mean":
            counts = tf.math.unsorted_segment_sum(tf.ones_like(place, out.dtype), place, places)
            out = out / tf.maximum(counts, 1)[:, None]
        return tf.reshape(out, tf.stack([ids.nrows(), steps, self.dim]))

    def get_config(self):
        return {
            **super().get_config(),
            "num_rows": self.num_rows,
            "dim": self.dim,
            "initializer": keras.initializers.serialize(self.initializer),
        }


def id_match(query_ids, sequence_ids, steps) -> tf.Tensor:
    """[batch, steps] float: 1 where the sequence's item t holds one of the row's query
    ids, else 0 (also after the row's last item).

    Computed on the flat ids (each compared with its own row's query ids, then summed
    into its item's place), so that an empty batch of items, or items of a fixed number
    of ids (a bucketized raw sequence), need no dense copy of the sequence.

    Args:
        query_ids: Ragged [batch, (ids)] (or an ``(ids, weights)`` pair).
        sequence_ids: Ragged [batch, (items), (ids)] (or an ``(ids, weights)`` pair).
        steps: Positions kept (at most the longest row's items).
    """
    query_ids, sequence_ids = ids_of(query_ids), ids_of(sequence_ids)
    q = query_ids.to_tensor(default_value=-1)  # [batch, n]
    item = sequence_ids.values.value_rowids()  # the item of each id
    row = sequence_ids.value_rowids()  # the row of each item
    position = tf.range(tf.shape(row, out_type=tf.int64)[0]) - tf.gather(
        sequence_ids.row_splits, row
    )
    id_row = tf.gather(row, item)
    hit = tf.reduce_any(tf.equal(sequence_ids.flat_values[:, None], tf.gather(q, id_row)), axis=1)
    steps = tf.cast(steps, tf.int64)
    id_position = tf.gather(position, item)
    # Places from `steps` on get -1, which the segment sum drops.
    place = tf.where(id_position < steps, id_row * steps + id_position, -tf.ones_like(id_row))
    rows = sequence_ids.nrows()
    hits = tf.math.unsorted_segment_sum(tf.cast(hit, tf.float32), place, rows * steps)
    return tf.reshape(tf.cast(hits > 0, tf.float32), tf.stack([rows, steps]))


def ids_of(value):
    """The ids of a feature layer's value: the value, or the ids of an ``(ids, weights)``
    pair (a weighted feature)."""
    return value[0] if isinstance(value, tuple) else value


def _repeat(x, rows):
    """`x` of one row repeated `rows` times along its first axis."""
    return tf.repeat(x, tf.reshape(rows, [1]), axis=0)


def _lists(d: dict) -> dict[str, list]:
    return {k: list(v) for k, v in d.items()}


def _tuples(d: dict) -> dict[str, tuple]:
    return {k: tuple(v) for k, v in d.items()}


def _check_names(features: dict, tables: dict, groups: dict, embeddings: dict) -> None:
    """Groups name known features, and embedded features known tables."""
    for group, names in groups.items():
        unknown = [n for n in names if n not in features]
        if unknown:
            raise ValueError(f"Group {group!r} names unknown features: {unknown}")
    for name, (table, _) in embeddings.items():
        if table not in tables:
            raise ValueError(f"Feature {name!r} uses unknown table {table!r}")


def _check_encoders(encoders: dict, sequence_groups: dict, group_encoders: dict) -> None:
    """Each group's encoders are known, and read known sequence groups."""
    for group, pairs in group_encoders.items():
        for encoder, seq in pairs:
            if encoder not in encoders or seq not in sequence_groups:
                raise ValueError(
                    f"Group {group!r}: unknown encoder {encoder!r} or sequence group {seq!r}"
                )


@keras.saving.register_keras_serializable(package="easymtl")
class FeatureInputs(keras.layers.Layer):
    """Raw input columns → one dense tensor per feature group.

    Args:
        features: Feature layers (:class:`IdFeature`, :class:`RawFeature`, and the
            sequence kinds, whose layers have ``is_sequence = True``) by feature name.
        input_names: The input column each feature reads (a list of columns for a
            :class:`ComboFeature`), by feature name.
        tables: Embedding tables by table name.
        embeddings: For each embedded feature, ``(table name, pooling)``; features not
            here are dense values.
        groups: Feature names of each group, in concatenation order.
        sequence_groups: Feature names (query and sequence features) of each sequence
            group, by its name.
        encoders: Sequence encoder layers (called as ``encoder(query, sequence, mask)``)
            by name.
        group_encoders: For each group, ``(encoder name, sequence group name)`` of its
            encoders, whose outputs follow the group's features in its tensor.
        aligned: Sequence features whose cells must hold as many items, by sequence name
            (the sub-features of a sequence_feature); see :meth:`row_checks`.
        wide_groups: Feature names of each WIDE group (see :mod:`easymtl.features.wide`).
        wide_embeddings: For each embedded feature of a WIDE group, ``(wide table name,
            pooling)``; its wide table (in `tables`) has `wide_dim` columns. The other
            features of WIDE groups are dense values, each with a linear weight.
        wide_dim: Columns of the WIDE groups' tensors (the towers' outputs, together).
        dense_embeddings: For each dense feature embedded by a layer of its own (an
            ``mlp`` or ``autodis`` block, :mod:`easymtl.features.dense_embedding`), that
            layer; its value's embedding replaces the value in the groups (not in WIDE
            groups, which weight the value itself).
        embedding_regularization: In training, adds ``embedding_regularization x`` the
            batch mean of each row's sum of squares of its pooled embeddings (the
            embedded features of the groups that are not WIDE) to the model's losses.
        wide_concat: A WIDE group's tensor is its features' wide terms concatenated,
            [batch, features x wide_dim] (TorchEasyRec's wide group, which rankers such
            as DeepFM and xDeepFM read), rather than their sum.
        group_dropouts: For a group, a layer called on its parts (its features' outputs,
            then its encoders') before they are concatenated, returning as many
            (:class:`~easymtl.layers.variational_dropout.VariationalDropout`).

    Call takes a dict of raw columns ([batch] tensors, or [batch, length] list columns)
    and returns a dict of [batch, width] float tensors by group name. A sequence group's
    query is its non-sequence features' outputs, concatenated; its sequence
    [batch, T, d] is its sequence features' item embeddings (or values), concatenated
    per position, with T the batch's longest sequence; a position is valid below the
    row's shortest sequence of the group. A WIDE group's tensor is [batch, wide_dim]: the
    sum of its features' wide weights. The feature layers run on the CPU, the embedding
    tables and the encoders on the default device.
    """

    def __init__(
        self,
        features: dict[str, keras.layers.Layer],
        input_names: dict[str, str],
        tables: dict[str, EmbeddingTable],
        embeddings: dict[str, tuple[str, str]],
        groups: dict[str, list[str]],
        sequence_groups: dict[str, list[str]] | None = None,
        encoders: dict[str, keras.layers.Layer] | None = None,
        group_encoders: dict[str, list[tuple[str, str]]] | None = None,
        aligned: dict[str, list[str]] | None = None,
        wide_groups: dict[str, list[str]] | None = None,
        wide_embeddings: dict[str, tuple[str, str]] | None = None,
        wide_dim: int = 1,
        embedding_regularization: float = 0.0,
        wide_concat: bool = False,
        dense_embeddings: dict[str, keras.layers.Layer] | None = None,
        group_dropouts: dict[str, keras.layers.Layer] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        sequence_groups = sequence_groups or {}
        wide_groups = wide_groups or {}
        wide_embeddings = wide_embeddings or {}
        encoders = encoders or {}
        group_encoders = group_encoders or {}
        if wide_dim <= 0:
            raise ValueError(f"`wide_dim` must be positive. Received: {wide_dim}")
        if not 0 <= embedding_regularization < float("inf"):
            raise ValueError(
                "`embedding_regularization` must be a finite number >= 0. "
                f"Received: {embedding_regularization}"
            )
        every_group = {**groups, **sequence_groups, **wide_groups}
        _check_names(features, tables, every_group, {**embeddings, **wide_embeddings})
        _check_encoders(encoders, sequence_groups, group_encoders)
        self.features = dict(features)
        self.input_names = dict(input_names)
        self.tables = dict(tables)
        self.embeddings = _tuples(embeddings)
        self.groups = _lists(groups)
        self.sequence_groups = _lists(sequence_groups)
        self.encoders = dict(encoders)
        self.group_encoders = {k: [tuple(p) for p in v] for k, v in group_encoders.items()}
        self.aligned = _lists(aligned or {})
        self.wide_groups = _lists(wide_groups)
        self.wide_embeddings = _tuples(wide_embeddings)
        self.wide_dim = int(wide_dim)
        self.embedding_regularization = float(embedding_regularization)
        self.wide_concat = bool(wide_concat)
        self.dense_embeddings = dict(dense_embeddings or {})
        self.group_dropouts = dict(group_dropouts or {})
        # The linear weight of each dense feature of a WIDE group, built on its first call.
        self.wide_weights = {
            name: keras.layers.Dense(
                self.wide_dim, use_bias=False, kernel_initializer="zeros", name=f"wide_{name}"
            )
            for names in self.wide_groups.values()
            for name in names
            if name not in self.wide_embeddings
        }

    def used_features(self) -> list[str]:
        """Every feature read, in first-use order (groups, then their sequence groups,
        then the WIDE groups)."""
        names = self.deep_features()
        for features in self.wide_groups.values():
            names += features
        return list(dict.fromkeys(names))

    def deep_features(self) -> list[str]:
        """The features read by the groups that are not WIDE, in first-use order."""
        return self.read_by(self.groups, self.sequence_groups, self.group_encoders)

    @staticmethod
    def read_by(groups: dict, sequence_groups: dict, group_encoders: dict) -> list[str]:
        """The features that `groups` read, with the sequence groups their encoders read,
        in first-use order (arguments as FeatureInputs takes them)."""
        names = []
        for group, features in groups.items():
            names += features
            for _, seq in group_encoders.get(group, []):
                names += sequence_groups[seq]
        return list(dict.fromkeys(names))

    @property
    def used_inputs(self) -> list[str]:
        """The raw input columns read, in first-use order."""
        columns = []
        for f in self.used_features():
            column = self.input_names[f]
            columns += list(column) if isinstance(column, (list, tuple)) else [column]
        return list(dict.fromkeys(columns))

    def is_sequence(self, name: str) -> bool:
        """Whether feature `name` is a sequence feature."""
        return getattr(self.features[name], "is_sequence", False)

    def build(self, input_shape=None):
        for table in self.tables.values():
            if not table.built:
                table.build()

    def call(self, inputs, training=None, tiled_inputs=()):
        """The feature groups of raw `inputs`.

        `tiled_inputs` names input columns that hold one row for the whole batch (a
        request's user side, served with export_config.input_tile 3): a feature that
        reads only such columns is computed once and its output repeated over the batch;
        any other feature reads them repeated. Without it every column has the batch's
        rows.
        """
        once, full, rows = self._tile(inputs, tiled_inputs)
        values = {
            name: self._values(name, inputs if name in once else full)
            for name in self.used_features()
        }
        if training:
            self._observe(values)
        outputs = {name: self._feature(name, values[name]) for name in self.deep_features()}
        if training and self.embedding_regularization:
            self.add_loss(self._embedding_penalty(outputs))
        if once:
            outputs = {n: _repeat(o, rows) if n in once else o for n, o in outputs.items()}
        result = {}
        for group, names in self.groups.items():
            parts = [outputs[f] for f in names]
            for encoder, seq in self.group_encoders.get(group, []):
                args = self._encoder_args(encoder, seq, values, outputs)
                parts.append(self.encoders[encoder](*args[:3], **args[3], training=training))
            if group in self.group_dropouts:
                parts = self.group_dropouts[group](parts, training=training)
            result[group] = tf.concat(parts, axis=-1) if len(parts) > 1 else parts[0]
        for group, names in self.wide_groups.items():
            terms = [self._wide_term(f, values[f]) for f in names]
            if once:
                terms = [_repeat(t, rows) if f in once else t for f, t in zip(names, terms)]
            if self.wide_concat:
                result[group] = tf.concat(terms, axis=-1) if len(terms) > 1 else terms[0]
            else:
                result[group] = tf.add_n(terms) if len(terms) > 1 else terms[0]
        return result

    def _tile(self, inputs, tiled_inputs) -> tuple[set, dict, tf.Tensor | None]:
        """(the features computed once, the inputs with the `tiled_inputs` columns
        repeated over the batch, the batch's rows): the features computed once read only
        `tiled_inputs` columns and are no sequence's; the batch has the rows of the
        other columns (1 where every column is tiled)."""
        tiled = set(tiled_inputs) & set(inputs)
        if not tiled:
            return set(), inputs, None
        in_sequences = {f for names in self.sequence_groups.values() for f in names}
        once = set()
        for name in self.used_features():
            columns = self.input_names[name]
            columns = {columns} if isinstance(columns, str) else set(columns)
            if columns <= tiled and not self.is_sequence(name) and name not in in_sequences:
                once.add(name)
        others = [c for c in self.used_inputs if c not in tiled and c in inputs]
        rows = tf.shape(inputs[others[0]])[0] if others else tf.constant(1)
        checks = [
            tf.debugging.assert_equal(
                tf.shape(inputs[c])[0],
                1,
                message=f"input_tile: the user-side column {c!r} must hold one row",
            )
            for c in sorted(tiled)
        ]
        with tf.control_dependencies(checks):
            # In a traced function, a repeated column no feature reads is pruned.
            full = {c: _repeat(v, rows) if c in tiled else v for c, v in inputs.items()}
        return once, full, rows

    def _embedding_penalty(self, outputs: dict):
        """embedding_regularization x the batch mean of each row's sum of squares of its
        pooled embeddings (EasyRec's embedding_regularization, per row)."""
        pooled = [outputs[n] for n in outputs if n in self.embeddings and not self.is_sequence(n)]
        if not pooled:
            return tf.constant(0.0)
        squares = tf.add_n([tf.reduce_sum(tf.square(x), axis=-1) for x in pooled])
        return self.embedding_regularization * tf.reduce_mean(squares)

    def encoder_inputs(self, inputs, encoder: str) -> dict:
        """What encoder `encoder` is called with on the raw columns `inputs`: ``query``
        [batch, q], ``sequence`` [batch, T, d], ``mask`` [batch, T] and, for an encoder
        that ``uses_match``, ``match`` [batch, T, k] (see :meth:`match`)."""
        seq = next(s for pairs in self.group_encoders.values() for e, s in pairs if e == encoder)
        names = self.sequence_groups[seq]
        values = {name: self._values(name, inputs) for name in names}
        outputs = {name: self._feature(name, value) for name, value in values.items()}
        query, sequence, mask, extra = self._encoder_args(encoder, seq, values, outputs)
        return {"query": query, "sequence": sequence, "mask": mask, **extra}

    def match_pairs(self, seq: str) -> list[tuple[str, str]]:
        """(query feature, sequence feature) pairs of sequence group `seq` that share an
        embedding table, sequence features in group order, then query features: the
        channels of :meth:`match`."""
        names = self.sequence_groups[seq]
        tables = {n: self.embeddings[n][0] for n in names if n in self.embeddings}
        sequences = [n for n in names if self.is_sequence(n) and n in tables]
        queries = [n for n in names if not self.is_sequence(n) and n in tables]
        return [(q, s) for s in sequences for q in queries if tables[q] == tables[s]]

    def _encoder_args(self, encoder: str, seq: str, values: dict, outputs: dict):
        query, sequence, mask = self._sequence_input(seq, outputs)
        if not getattr(self.encoders[encoder], "uses_match", False):
            return query, sequence, mask, {}
        channels = [
            id_match(values[q], values[s], tf.shape(mask)[1]) for q, s in self.match_pairs(seq)
        ]
        if channels:
            match = tf.stack(channels, axis=-1)
        else:
            match = tf.zeros(tf.concat([tf.shape(mask), [0]], 0), sequence.dtype)
        return query, sequence, mask, {"match": match}

    def _values(self, name: str, inputs):
        """The output of one feature's layer on its raw column(s): ragged ids (or ``(ids,
        weights)``), dense values, or a sequence's ragged ids [batch, (items), (ids)] or
        values [batch, (items), d]."""
        column = self.input_names[name]
        # Parsing, splitting, hashing and vocabulary lookups of raw values are string
        # kernels that exist only on the CPU; the embedding lookups and the dense math
        # after them (pooling, the sequence encoders) stay on the default device (a GPU
        # where there is one).
        with tf.device("/CPU:0"):
            if isinstance(column, (list, tuple)):
                return self.features[name]([inputs[c] for c in column])
            return self.features[name](inputs[column])

    def _feature(self, name: str, value):
        """The output of one feature from its layer's `value`: [batch, d] (pooled), or for
        a sequence feature its layer's ragged ids [batch, (items), (ids)] or values
        [batch, (items), d], which :meth:`_sequence_input` embeds and lays out for its
        group."""
        if name in self.dense_embeddings:
            return self.dense_embeddings[name](value)
        if name not in self.embeddings or self.is_sequence(name):
            return value
        return self._lookup(self.embeddings[name], value)

    def _observe(self, values: dict) -> None:
        """A training step's keys of each zch table, observed once over every feature
        that reads it (a sequence's item ids and its query's ids alike), before any
        lookup: one admission a step, as TorchRec's managed-collision modules do."""
        keys: dict[str, list] = {}
        for name, value in values.items():
            embedding = self.embeddings.get(name)  # (a WIDE group has no zch feature)
            if embedding is not None and hasattr(self.tables[embedding[0]], "observe"):
                keys.setdefault(embedding[0], []).append(ids_of(value).flat_values)
        for table, parts in keys.items():
            self.tables[table].observe(tf.concat(parts, 0) if len(parts) > 1 else parts[0])

    def _call_table(self, table: str, ids, **kwargs):
        """Table `table` on `ids`; a zch table's keys were observed by :meth:`_observe`."""
        if hasattr(self.tables[table], "observe"):
            kwargs["observed"] = True
        return self.tables[table](ids, **kwargs)

    def _lookup(self, embedding: tuple[str, str], value):
        table, pooling = embedding
        if isinstance(value, tuple):  # a weighted feature: (ids, weights)
            ids, weights = value
            return self._call_table(table, ids, pooling=pooling, weights=weights)
        return self._call_table(table, value, pooling=pooling)

    def _wide_term(self, name: str, value):
        """[batch, wide_dim]: a feature's pooled wide weights, or its dense value times
        its linear weight."""
        if name in self.wide_embeddings:
            return self._lookup(self.wide_embeddings[name], value)
        return self.wide_weights[name](tf.cast(value, self.compute_dtype))

    def _sequence_input(self, seq: str, outputs: dict):
        """(query [batch, q], sequence [batch, T, d], mask [batch, T]) of a sequence group."""
        names = self.sequence_groups[seq]
        queries = [outputs[f] for f in names if not self.is_sequence(f)]
        sequences = [f for f in names if self.is_sequence(f)]
        lengths = ids_of(outputs[sequences[0]]).row_lengths()
        for f in sequences[1:]:
            lengths = tf.minimum(lengths, ids_of(outputs[f]).row_lengths())
        steps = tf.reduce_max(tf.concat([lengths, [0]], axis=0))
        rows = tf.shape(lengths, out_type=tf.int64)[0]
        dense = [self._items(f, outputs[f], rows, steps) for f in sequences]
        sequence = tf.concat(dense, axis=-1) if len(dense) > 1 else dense[0]
        mask = tf.sequence_mask(lengths, steps)
        query = (
            tf.concat(queries, axis=-1)
            if len(queries) > 1
            else queries[0]
            if queries
            else tf.zeros([rows, 0], sequence.dtype)
        )
        return query, sequence, mask

    def _items(self, name: str, value, rows, steps):
        """[batch, steps, width] of sequence feature `name`'s layer `value`: each item's
        ids pooled (weighted) into one vector in its place, or its dense values."""
        if name in self.embeddings:
            table, pooling = self.embeddings[name]
            ids, weights = value if isinstance(value, tuple) else (value, None)
            x = self._call_table(table, ids, pooling=pooling, weights=weights, steps=steps)
            width = self.tables[table].dim
        else:
            width = value.flat_values.shape[-1]
            x = value.to_tensor(shape=tf.stack([rows, steps, width]))
        return tf.ensure_shape(x, [None, None, width])

    def row_checks(self) -> list:
        """Data checks of the input rows (see :mod:`easymtl.data.checks`): each feature
        layer's own ``cell_checks()`` (e.g. a weighted feature's ``id:weight`` items), and
        the cells of a sequence's sub-features must hold as many items (before
        truncation)."""
        from easymtl.data.checks import Check
        from easymtl.features.sequence_items import sequence_items

        used = set(self.used_features())
        checks = []
        for name in self.used_features():
            columns = self.input_names[name]
            columns = list(columns) if isinstance(columns, (list, tuple)) else [columns]
            for index, bad, what in getattr(self.features[name], "cell_checks", list)():
                column = columns[index]
                checks.append(Check(column, lambda b, c=column, f=bad: f(b[c]), what))
        for sequence, names in self.aligned.items():
            names = [n for n in names if n in used]
            columns = [self.input_names[n] for n in names]
            delims = [self.features[n].sequence_delim for n in names]
            for column, delim in zip(columns[1:], delims[1:]):

                def bad(batch, c=column, d=delim, c0=columns[0], d0=delims[0]):
                    counts = sequence_items(batch[c], d).row_lengths()
                    return counts != sequence_items(batch[c0], d0).row_lengths()

                checks.append(
                    Check(
                        column,
                        bad,
                        f"holds another number of items than column {columns[0]!r}; the "
                        f"sub-features of sequence {sequence!r} describe the same items",
                    )
                )
        return checks

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "features": {k: serialize(v) for k, v in self.features.items()},
            "input_names": self.input_names,
            "tables": {k: serialize(v) for k, v in self.tables.items()},
            "embeddings": self.embeddings,
            "groups": self.groups,
            "sequence_groups": self.sequence_groups,
            "encoders": {k: serialize(v) for k, v in self.encoders.items()},
            "group_encoders": self.group_encoders,
            "aligned": self.aligned,
            "wide_groups": self.wide_groups,
            "wide_embeddings": self.wide_embeddings,
            "wide_dim": self.wide_dim,
            "embedding_regularization": self.embedding_regularization,
            "wide_concat": self.wide_concat,
            "dense_embeddings": {k: serialize(v) for k, v in self.dense_embeddings.items()},
            "group_dropouts": {k: serialize(v) for k, v in self.group_dropouts.items()},
        }

    @classmethod
    def from_config(cls, config):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        config["features"] = {k: deserialize(v) for k, v in config["features"].items()}
        config["tables"] = {k: deserialize(v) for k, v in config["tables"].items()}
        config["encoders"] = {k: deserialize(v) for k, v in config.get("encoders", {}).items()}
        config["dense_embeddings"] = {
            k: deserialize(v) for k, v in config.get("dense_embeddings", {}).items()
        }
        config["group_dropouts"] = {
            k: deserialize(v) for k, v in config.get("group_dropouts", {}).items()
        }
        return cls(**config)
