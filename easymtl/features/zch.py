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

import keras
import tensorflow as tf

from easymtl.features.embedding import EmbeddingTable

EMPTY = -1
# Raw ids become keys in [0, KEYS): the fingerprint of their text.
KEYS = 2**63 - 1
POLICIES = ("lfu", "lru", "distance_lfu")
_LAST = tf.int64.max  # sorts after every key: the free rows' place in sorted_keys


@keras.saving.register_keras_serializable(package="easymtl")
class ZchEmbeddingTable(EmbeddingTable):
    """An embedding table of `num_rows` rows looked up with raw 64-bit keys.

    Args:
        num_rows: Rows of the table (TorchEasyRec's ``zch_size``), row 0 included.
        dim: Embedding dimension.
        eviction_interval: Training steps between admissions and evictions.
        policy: "lfu", "lru" or "distance_lfu".
        decay_exponent: distance_lfu's decay of sightings with the steps since the last.
        filter_freq: Sightings a key needs before it gets a row.
        initializer: Keras initializer of the table (and of a row given to a new key).

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

    def call(self, ids: tf.RaggedTensor, pooling: str = "sum", weights=None, training=None):
        keys = ids.flat_values
        with tf.device(self.sorted_keys.value.device):  # beside the map, where it is
            if training:
                tf.cond(
                    self.step % self.eviction_interval == self.eviction_interval - 1,
                    self._admit,
                    lambda: tf.constant(0, tf.int64),
                )
            rows, hit = self._rows(keys)
            if training:
                self._count(keys, rows, hit)
        return super().call(ids.with_flat_values(rows), pooling=pooling, weights=weights)

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
        if self.policy == "lfu":
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
        fresh = self.initializer(tf.stack([tf.size(new), self.dim]), dtype=self.embeddings.dtype)
        self.embeddings.value.scatter_update(tf.IndexedSlices(fresh, free))
        keys = tf.convert_to_tensor(self.row_keys)
        order = tf.argsort(tf.where(keys == EMPTY, _LAST, keys))
        self.sorted_keys.assign(tf.gather(tf.where(keys == EMPTY, _LAST, keys), order))
        self.sorted_rows.assign(tf.where(tf.gather(keys, order) == EMPTY, 0, order))
        return tf.cast(tf.size(new), tf.int64)

    def get_config(self):
        return {
            **super().get_config(),
            "eviction_interval": self.eviction_interval,
            "policy": self.policy,
            "decay_exponent": self.decay_exponent,
            "filter_freq": self.filter_freq,
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
