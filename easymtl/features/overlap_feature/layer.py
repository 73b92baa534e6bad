"""Overlap of a query's and a title's terms → a number per row."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.base import BuiltFeature, one_feature
from easymtl.features.overlap_feature import overlap_inputs
from easymtl.features.raw_feature.layer import RawFeature
from easymtl.features.sequence_items import sequence_items


@keras.saving.register_keras_serializable(package="easymtl")
class OverlapFeature(keras.layers.Layer):
    """How much the terms of a query cell and of a title cell overlap, as TorchEasyRec's
    overlap_feature computes it.

    A cell's terms are its values joined by `separator` (or a list column's values); an
    empty cell has none. With q the query's terms and t the title's, `method` gives:

    - ``query_common_ratio``: the share of q's terms found in t (0 for an empty q);
    - ``title_common_ratio``: the share of t's terms found in q (0 for an empty t);
    - ``is_contain``: 1 where q occurs in t as a whole (its terms in a row, in order),
      else 0 (0 for an empty q);
    - ``is_equal``: 1 where q and t are the same terms in the same order, else 0;
    - ``index_of``: the position in t where q first occurs as a whole, or -1.

    The number is then dense (optionally normalized) or, with `boundaries`, a bucket id
    (as :class:`~easymtl.features.raw_feature.layer.RawFeature`).

    Args:
        method: One of the methods above.
        separator: Separator of the terms of a cell.
        boundaries: Sorted bucket boundaries; without them the value stays dense.
        normalizer: A normalizer spec of a dense value.

    Call takes ``[query, title]`` [batch] columns and returns [batch, 1] floats, or with
    `boundaries` ragged bucket ids [batch, (1)].

    Example:
        >>> f = OverlapFeature("query_common_ratio", separator="|")
        >>> f([tf.constant(["a|b", "c"]), tf.constant(["b|x", ""])]).numpy()
        array([[0.5], [0. ]], dtype=float32)
    """

    METHODS = ("query_common_ratio", "title_common_ratio", "is_contain", "is_equal", "index_of")

    def __init__(
        self,
        method: str,
        separator: str = "\x1d",
        boundaries: list[float] | None = None,
        normalizer: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if method not in self.METHODS:
            raise ValueError(f"`method` must be one of {self.METHODS}. Received: {method!r}")
        if not separator:
            raise ValueError("`separator` must not be empty.")
        self.method = method
        self.separator = separator
        self.values = RawFeature(boundaries=boundaries, normalizer=normalizer, name="values")

    @property
    def num_ids(self) -> int | None:
        """Rows of the embedding table (with boundaries), else None (a dense value)."""
        return self.values.num_ids

    def build(self, input_shape=None):
        self.values.build(None)

    def call(self, inputs):
        query, title = (_terms(x, self.separator) for x in inputs)
        # One padding column more, so that a batch of empty titles still has a position.
        rows = query.nrows()
        q = tf.concat([query.to_tensor(""), tf.fill([rows, 1], "")], 1)  # [batch, m]
        t = tf.concat([title.to_tensor(""), tf.fill([rows, 1], "")], 1)  # [batch, n]
        q_valid = tf.sequence_mask(query.row_lengths(), tf.shape(q)[1])
        t_valid = tf.sequence_mask(title.row_lengths(), tf.shape(t)[1])
        equal = tf.equal(q[:, :, None], t[:, None, :])
        equal &= q_valid[:, :, None] & t_valid[:, None, :]  # [batch, m, n]
        q_len = tf.cast(query.row_lengths(), tf.float32)
        t_len = tf.cast(title.row_lengths(), tf.float32)
        if self.method == "query_common_ratio":
            found = tf.reduce_sum(tf.cast(tf.reduce_any(equal, 2), tf.float32), 1)
            value = tf.math.divide_no_nan(found, q_len)
        elif self.method == "title_common_ratio":
            found = tf.reduce_sum(tf.cast(tf.reduce_any(equal, 1), tf.float32), 1)
            value = tf.math.divide_no_nan(found, t_len)
        elif self.method == "is_equal":
            value = self._is_equal(q, t, q_len, t_len)
        else:
            first = _first_occurrence(equal, query.row_lengths(), tf.shape(t)[1])
            value = tf.cast(first >= 0, tf.float32) if self.method == "is_contain" else first
        return self.values(tf.cast(value, tf.float32))

    @staticmethod
    def _is_equal(q, t, q_len, t_len):
        width = tf.maximum(tf.shape(q)[1], tf.shape(t)[1])
        q = tf.pad(q, [[0, 0], [0, width - tf.shape(q)[1]]])
        t = tf.pad(t, [[0, 0], [0, width - tf.shape(t)[1]]])
        same = tf.reduce_all(tf.equal(q, t), axis=1) & tf.equal(q_len, t_len)
        return tf.cast(same, tf.float32)

    def get_config(self):
        return {
            **super().get_config(),
            "method": self.method,
            "separator": self.separator,
            "boundaries": self.values.boundaries,
            "normalizer": self.values.normalizer,
        }


def _terms(x: tf.Tensor, separator: str) -> tf.RaggedTensor:
    """Ragged string terms of a [batch] cell column or a [batch, n] list column."""
    items = sequence_items(x, separator)
    if items.dtype != tf.string:
        items = items.with_flat_values(tf.strings.as_string(items.flat_values))
    return items


def _first_occurrence(equal, q_lengths, n) -> tf.Tensor:
    """[batch] float: the first position p of the title where the query's terms follow
    in a row (``equal`` [batch, m, n]: query term j equals title term k), else -1."""
    m = tf.shape(equal)[1]
    start = tf.range(n)[:, None]  # [n, 1]
    offset = tf.range(m)[None, :]  # [1, m]
    at = start + offset  # [n, m]: the title position of query term j from start p
    inside = at < n
    gathered = tf.gather(tf.transpose(equal, [0, 2, 1]), tf.minimum(at, n - 1), axis=1)
    # gathered[b, p, j, i] = equal[b, i, at[p, j]] ([batch, n, m, m]): keep i == j.
    hit = tf.linalg.diag_part(gathered) & inside[None]  # [batch, n, m]
    needed = tf.sequence_mask(q_lengths, m)[:, None, :]  # the query's real terms
    match = tf.reduce_all(hit | ~needed, axis=2) & (q_lengths > 0)[:, None]  # [batch, n]
    position = tf.cast(tf.range(n), tf.float32)[None, :]
    first = tf.reduce_min(tf.where(match, position, float("inf")), axis=1)
    return tf.where(tf.math.is_inf(first), -1.0, first)


def build_overlap_feature(f, feature_configs=None) -> list[BuiltFeature]:
    """The layer of an OverlapFeature message: embedded with boundaries, else dense."""
    layer = OverlapFeature(
        method=f.method,
        separator=f.separator,
        boundaries=list(f.boundaries),
        normalizer=f.normalizer if f.HasField("normalizer") else None,
        name=f.feature_name,
    )
    dim = f.embedding_dim if f.boundaries else None
    return one_feature(f, layer, dim, columns=[c for _, c in overlap_inputs(f)])
