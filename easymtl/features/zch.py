"""Zero-collision hash (TorchEasyRec's ``zch``): an embedding table whose rows are given
to raw ids one each, with admission by frequency and eviction when it is full.

The id feature turns each raw value into a 64-bit key (its fingerprint), and
:class:`ZchEmbeddingTable` maps keys to rows. Row 0 is the row of every key without
one of its own; rows 1 … N - 1 belong to one key each. The map is held in variables
(checkpointed and exported with the table, and placed on the parameter servers like any
other variable), so serving maps keys as training last did:

- ``row_keys[r]``: the key of row r (``EMPTY`` for a free row and for row 0);
- ``sorted_keys`` / ``sorted_rows``: the same pairs sorted by key, for a binary search;
- ``row_counts`` / ``row_steps``: each row's sightings and the step it was last seen;
- ``pending_keys`` / ``pending_counts`` / ``pending_steps``: keys waiting for a row,
  in N slots (slot = key mod N; a newer key takes an occupied slot);
- ``step``: the training steps the table has taken.

In training, each call first (every ``eviction_interval`` steps) lets the pending keys
that were seen ``filter_freq`` times compete with the keys in the table: the table keeps
the N - 1 keys of the highest score (ties keep the key already there), by LFU
(sightings), LRU (last step seen) or distance-LFU (sightings / (steps since + 1) ^
decay); a row given to a new key gets fresh initial values. Then it looks the batch's
keys up, counts the hits, and adds the misses to the pending slots.
"""

from __future__ import annotations

import zlib

import keras
import tensorflow as tf

from easymtl.features.embedding import EmbeddingTable
from easymtl.features.id_feature import DYNAMICEMB_POLICIES

EMPTY = -1
# Raw ids become keys in [0, KEYS): the fingerprint of their text.
KEYS = 2**63 - 1
POLICIES = ("lfu", "lru", "distance_lfu", "no_eviction")
_LAST = tf.int64.max  # sorts after every key: the free rows' place in sorted_keys


@keras.saving.register_keras_serializable(package="easymtl")
class ZchEmbeddingTable(EmbeddingTable):
    """An embedding table of `num_rows` rows looked up with raw 64-bit keys.

    Args:
        num_rows: Rows of the table (TorchEasyRec's ``zch_size``), row 0 included.
        dim: Embedding dimension.
        eviction_interval: Training steps between admissions and evictions.
        policy: "lfu", "lru", "distance_lfu" or "no_eviction" (a key keeps its row; a
            full table admits no new key).
        decay_exponent: distance_lfu's decay of sightings with the steps since the last.
        filter_freq: Sightings a key needs before it gets a row.
        initializer: Keras initializer of the table (and of a row given to a new key).
        immediate: Admit in the step a key is seen (dynamicemb's insertion at lookup):
            each training call counts the batch's keys, admits, then looks them up;
            ``eviction_interval`` is then unused. Else the admissions come first, every
            ``eviction_interval`` calls, of the keys counted before.
        unknown_values: ``(training, evaluation)``: what a key without a row reads, a
            constant in every element, not trained (dynamicemb's admission and eval
            initializers). None: row 0, trained as any row.

    Example:
        >>> table = ZchEmbeddingTable(4, 2, eviction_interval=1)
        >>> keys = tf.ragged.constant([[7, 9], [7]], dtype=tf.int64)
        >>> _ = table(keys, training=True)  # 7 and 9 are pending
        >>> _ = table(keys, training=True)  # admitted, then looked up
        >>> sorted(table.rows_of([7, 9, 5]).numpy().tolist())
        [0, 1, 2]
    """

    def __init__(
        self,
        num_rows: int,
        dim: int,
        eviction_interval: int = 5,
        policy: str = "lfu",
        decay_exponent: float = 1.0,
        filter_freq: int = 1,
        initializer="uniform",
        immediate: bool = False,
        unknown_values: tuple[float, float] | None = None,
        **kwargs,
    ):
        super().__init__(num_rows, dim, initializer=initializer, **kwargs)
        if num_rows < 2:
            raise ValueError(f"`num_rows` must be at least 2. Received: {num_rows}")
        if eviction_interval <= 0:
            raise ValueError(f"`eviction_interval` must be positive. Received: {eviction_interval}")
        if policy not in POLICIES:
            raise ValueError(f"`policy` must be one of {POLICIES}. Received: {policy!r}")
        if filter_freq <= 0:
            raise ValueError(f"`filter_freq` must be positive. Received: {filter_freq}")
        self.eviction_interval = int(eviction_interval)
        self.policy = policy
        self.decay_exponent = float(decay_exponent)
        self.filter_freq = int(filter_freq)
        self.immediate = bool(immediate)
        self.unknown_values = (
            tuple(float(v) for v in unknown_values) if unknown_values is not None else None
        )
        self._unknown = None  # unknown_values' value of the call being traced

    def build(self, input_shape=None):
        super().build(input_shape)  # the embeddings first: a ps shards that one
        n = self.num_rows

        def weight(name, dtype, value):
            return self.add_weight(
                shape=(n,),
                dtype=dtype,
                initializer=keras.initializers.Constant(value),
                trainable=False,
                name=name,
            )

        # The map's searches, sorts and scatters are CPU kernels (beside a GPU's table).
        with tf.device("/CPU:0"):
            self.row_keys = weight("row_keys", "int64", EMPTY)
            self.sorted_keys = weight("sorted_keys", "int64", _LAST)
            self.sorted_rows = weight("sorted_rows", "int64", 0)
            self.row_counts = weight("row_counts", "float32", 0.0)
            self.row_steps = weight("row_steps", "int64", 0)
            self.pending_keys = weight("pending_keys", "int64", EMPTY)
            self.pending_counts = weight("pending_counts", "float32", 0.0)
            self.pending_steps = weight("pending_steps", "int64", 0)
            self.step = self.add_weight(
                shape=(), dtype="int64", initializer="zeros", trainable=False, name="step"
            )

    def call(
        self,
        ids: tf.RaggedTensor,
        pooling: str = "sum",
        weights=None,
        steps=None,
        training=None,
        observed: bool = False,
    ):
        """The embeddings of the keys `ids` (see EmbeddingTable.call); in training the
        keys are first observed (:meth:`observe`), unless `observed` says the caller
        observed them this step (a table several features share is observed once, over
        all their keys)."""
        keys = ids.flat_values
        if training and not observed:
            self.observe(keys)
        with tf.device(self.sorted_keys.value.device):  # beside the map, where it is
            rows = self._rows(keys)[0]  # after observe's admissions: the same variables
        if self.unknown_values is not None:
            self._unknown = self.unknown_values[0 if training else 1]
        return super().call(
            ids.with_flat_values(rows),
            pooling=pooling,
            weights=weights,
            steps=steps,
            training=training,
        )

    def observe(self, keys: tf.Tensor) -> None:
        """One training step's sightings of `keys` [n]: (every eviction_interval steps)
        the admissions first, then the keys counted; immediate: counted, then admitted."""
        with tf.device(self.sorted_keys.value.device):
            if not self.immediate:
                tf.cond(
                    self.step % self.eviction_interval == self.eviction_interval - 1,
                    self._admit,
                    lambda: tf.constant(0, tf.int64),
                )
            rows, hit = self._rows(keys)
            self._count(keys, rows, hit)
            if self.immediate:
                self._admit()

    def rows(self, ids) -> tf.Tensor:
        """The rows [n, dim] at `ids` [n]; with unknown_values, row 0's read as the
        constant (and no gradient reaches it)."""
        vectors = super().rows(ids)
        if self.unknown_values is None:
            return vectors
        constant = tf.constant(self._unknown, vectors.dtype)
        return tf.where((ids != 0)[:, None], vectors, constant)

    def rows_of(self, keys) -> tf.Tensor:
        """The rows that `keys` map to now (0 for a key without a row)."""
        return self._rows(tf.convert_to_tensor(keys, tf.int64))[0]

    def _rows(self, keys):
        sorted_keys = tf.convert_to_tensor(self.sorted_keys)
        position = tf.minimum(tf.searchsorted(sorted_keys, keys), self.num_rows - 1)
        hit = tf.gather(sorted_keys, position) == keys
        rows = tf.where(hit, tf.gather(tf.convert_to_tensor(self.sorted_rows), position), 0)
        # One row per key, also where Keras traces the layer with symbolic variables.
        return tf.reshape(rows, [-1]), tf.reshape(hit, [-1])

    def _count(self, keys, rows, hit) -> None:
        """Counts the hits of the batch in their rows, its misses in the pending slots."""
        step = self.step.value
        found, _, counts = tf.unique_with_counts(tf.boolean_mask(rows, hit))
        self.row_counts.value.scatter_add(tf.IndexedSlices(tf.cast(counts, tf.float32), found))
        self.row_steps.value.scatter_update(tf.IndexedSlices(tf.fill(tf.shape(found), step), found))
        missed, _, counts = tf.unique_with_counts(tf.boolean_mask(keys, ~hit))
        slots = missed % self.num_rows
        same = tf.gather(tf.convert_to_tensor(self.pending_keys), slots) == missed
        before = tf.where(same, tf.gather(tf.convert_to_tensor(self.pending_counts), slots), 0.0)
        self.pending_keys.value.scatter_update(tf.IndexedSlices(missed, slots))
        self.pending_counts.value.scatter_update(
            tf.IndexedSlices(before + tf.cast(counts, tf.float32), slots)
        )
        self.pending_steps.value.scatter_update(
            tf.IndexedSlices(tf.fill(tf.shape(slots), step), slots)
        )
        self.step.assign_add(1)

    def _score(self, counts, steps):
        if self.policy in ("lfu", "no_eviction"):
            return counts
        if self.policy == "lru":
            return tf.cast(steps, tf.float32)
        since = tf.cast(self.step.value - steps, tf.float32)
        return counts / tf.pow(since + 1.0, self.decay_exponent)

    def _admit(self):
        """Gives rows to the pending keys that were seen filter_freq times and score
        above the keys they replace; returns how many got one."""
        n = self.num_rows
        row_keys = tf.convert_to_tensor(self.row_keys)[1:]  # row 0 is no key's
        held = row_keys != EMPTY
        row_score = self._score(
            tf.convert_to_tensor(self.row_counts)[1:], tf.convert_to_tensor(self.row_steps)[1:]
        )
        if self.policy == "no_eviction":  # a key in the table outscores every new one
            row_score = tf.fill(tf.shape(row_score), tf.float32.max)
        pending_keys = tf.convert_to_tensor(self.pending_keys)
        pending_counts = tf.convert_to_tensor(self.pending_counts)
        pending_steps = tf.convert_to_tensor(self.pending_steps)
        ready = (pending_keys != EMPTY) & (pending_counts >= self.filter_freq)
        pending_score = self._score(pending_counts, pending_steps)
        # Every row's key, then every ready pending key: the best n - 1 keep or get a row
        # (top_k puts the lower index first among equals: the key already there).
        lowest = tf.float32.min
        scores = tf.concat(
            [tf.where(held, row_score, lowest), tf.where(ready, pending_score, lowest)], 0
        )
        _, best = tf.math.top_k(scores, k=n - 1)
        best = tf.boolean_mask(best, tf.gather(scores, best) > lowest)
        kept = tf.boolean_mask(best, best < n - 1)
        new = tf.boolean_mask(best, best >= n - 1) - (n - 1)  # pending slots
        # Rows for the new keys: those not kept (free, or their key evicted: only when
        # the table is full, so that the new keys take every such row).
        keep = tf.scatter_nd(kept[:, None], tf.ones_like(kept, tf.bool), [n - 1])
        free = tf.where(~keep)[:, 0][: tf.size(new)] + 1
        new_keys = tf.gather(pending_keys, new)
        self.row_keys.value.scatter_update(tf.IndexedSlices(new_keys, free))
        self.row_counts.value.scatter_update(tf.IndexedSlices(tf.gather(pending_counts, new), free))
        self.row_steps.value.scatter_update(tf.IndexedSlices(tf.gather(pending_steps, new), free))
        self.pending_keys.value.scatter_update(
            tf.IndexedSlices(tf.fill(tf.shape(new), tf.constant(EMPTY, tf.int64)), new)
        )
        self.pending_counts.value.scatter_update(
            tf.IndexedSlices(tf.zeros(tf.shape(new), tf.float32), new)
        )
        self.embeddings.value.scatter_update(tf.IndexedSlices(self._fresh(tf.size(new)), free))
        keys = tf.convert_to_tensor(self.row_keys)
        order = tf.argsort(tf.where(keys == EMPTY, _LAST, keys))
        self.sorted_keys.assign(tf.gather(tf.where(keys == EMPTY, _LAST, keys), order))
        self.sorted_rows.assign(tf.where(tf.gather(keys, order) == EMPTY, 0, order))
        return tf.cast(tf.size(new), tf.int64)

    def _fresh(self, n) -> tf.Tensor:
        """Initial values [n, dim] of rows given to new keys, drawn anew at each admission:
        a stateless draw seeded by the table's step and name (an unseeded Keras initializer
        repeats its numbers at every call of a traced function); constants as they are."""
        shape = tf.stack([n, self.dim])
        dtype = self.embeddings.dtype
        seed = tf.stack([self.step.value, tf.constant(zlib.crc32(self.name.encode()), tf.int64)])
        c = self.initializer.get_config()
        kind = type(self.initializer).__name__
        if kind == "RandomUniform":
            return tf.random.stateless_uniform(shape, seed, c["minval"], c["maxval"], dtype)
        if kind == "RandomNormal":
            return tf.random.stateless_normal(shape, seed, c["mean"], c["stddev"], dtype)
        if kind == "TruncatedNormal":
            return tf.random.stateless_truncated_normal(shape, seed, c["mean"], c["stddev"], dtype)
        return self.initializer(shape, dtype=dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "eviction_interval": self.eviction_interval,
            "policy": self.policy,
            "decay_exponent": self.decay_exponent,
            "filter_freq": self.filter_freq,
            "immediate": self.immediate,
            "unknown_values": self.unknown_values,
        }


def zch_args(zch) -> dict:
    """ZchEmbeddingTable's arguments (but dim) from a ZeroCollisionHash message."""
    policy = zch.WhichOneof("eviction_policy") or "lfu"
    return {
        "num_rows": zch.zch_size,
        "eviction_interval": zch.eviction_interval,
        "policy": policy,
        "decay_exponent": zch.distance_lfu.decay_exponent if policy == "distance_lfu" else 1.0,
        "filter_freq": zch.filter_freq,
    }


def dynamicemb_args(dynamicemb, dim: int) -> dict:
    """ZchEmbeddingTable's arguments (but dim) from a DynamicEmbedding message of a
    feature with embedding `dim` (checked by easymtl.features.id_feature): rows for
    max_capacity ids and row 0, admission at the first sighting (or the frequency
    strategy's threshold) in the step itself, unknown ids read as constants."""
    capacity = dynamicemb.max_capacity
    admission = dynamicemb.frequency_admission_strategy
    admitting = dynamicemb.HasField("frequency_admission_strategy")
    return {
        "num_rows": capacity + 1,
        "eviction_interval": 1,
        "policy": DYNAMICEMB_POLICIES[dynamicemb.score_strategy],
        "filter_freq": admission.threshold if admitting else 1,
        "initializer": dynamicemb_initializer(dynamicemb.initializer_args, capacity, dim),
        "immediate": True,
        "unknown_values": (
            admission.initializer_args.value if admitting else 0.0,
            dynamicemb.eval_initializer_args.value,
        ),
    }


def dynamicemb_initializer(args, capacity: int, dim: int) -> dict:
    """The Keras initializer (as its config) of a DynamicEmbInitializerArgs message, with
    TorchEasyRec's defaults: UNIFORM in +-sqrt(1 / capacity), NORMAL's std sqrt(1 / dim)."""
    mode = args.mode if args.HasField("mode") else "UNIFORM"
    if mode == "NORMAL":
        std = args.std_dev if args.HasField("std_dev") else dim**-0.5
        return {"class_name": "RandomNormal", "config": {"mean": args.mean, "stddev": std}}
    if mode == "CONSTANT":
        return {"class_name": "Constant", "config": {"value": args.value}}
    bound = capacity**-0.5
    low = args.lower if args.HasField("lower") else -bound
    high = args.upper if args.HasField("upper") else bound
    return {"class_name": "RandomUniform", "config": {"minval": low, "maxval": high}}
