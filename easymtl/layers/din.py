"""DIN target attention over a behaviour sequence (Zhou et al., KDD 2018)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from easymtl.layers.mlp import MLP
from easymtl.layers.sequence_common import check_dims, masked_softmax, pad_query, weighted_sum

# Time constants (in positions) of the recency inputs exp(-t / tau).
RECENCY_TAUS = (1.0, 4.0, 16.0, 64.0)


@keras.saving.register_keras_serializable(package="easymtl")
class DINEncoder(keras.layers.Layer):
    """The candidate (query) attends to the valid positions of a sequence.

    Position t scores ``a_t = w · MLP([q, s_t, q − s_t, q ⊙ s_t]) + b``; the output is
    ``Σ_t softmax(a)_t s_t`` over the valid positions (where `mask` is True), as
    TorchEasyRec's ``DINEncoder`` computes it. A query narrower than the sequence is
    padded with zeros; a row with no valid position gives zeros.

    With `exact_match`, the call also takes ``match`` [batch, T, k]: 1 where position t's
    id equals the query's, one channel per query/sequence feature pair sharing a table.
    The channels join the score's input, and they are also weighted and summed like the
    sequence, so the output ends with ``Σ_t softmax(a)_t m_t`` (k more values: how much
    of the attention fell on matching positions). With `recency`, the score's input also
    holds ``exp(−t / τ)`` for τ in :data:`RECENCY_TAUS` (t = 0 is the sequence's first,
    most recent, position). Both make what the score needs to see an input of it, rather
    than something the MLP must first learn from small random embeddings.

    Args:
        attn_mlp: Keyword arguments of the score's :class:`MLP` (e.g.
            ``{"hidden_units": [32, 8]}``).
        exact_match: Whether the call takes ``match`` channels (see above).
        recency: Whether the score reads the position's recency.

    Call args:
        query: [batch, q] with q ≤ d.
        sequence: [batch, T, d].
        mask: [batch, T] bool, True at valid positions.
        match: [batch, T, k] floats, with `exact_match` only.

    Returns:
        [batch, d], or [batch, d + k] with `exact_match`.

    Example:
        >>> din = DINEncoder({"hidden_units": [4]})
        >>> din(ops.ones((2, 3)), ops.ones((2, 5, 3)), ops.ones((2, 5), "bool")).shape
        (2, 3)
        >>> din = DINEncoder({"hidden_units": [4]}, exact_match=True, recency=True)
        >>> din(ops.ones((2, 3)), ops.ones((2, 5, 3)), ops.ones((2, 5), "bool"),
        ...     match=ops.ones((2, 5, 1))).shape
        (2, 4)
    """

    def __init__(self, attn_mlp: dict, exact_match: bool = False, recency: bool = False, **kwargs):
        super().__init__(**kwargs)
        if not attn_mlp or not attn_mlp.get("hidden_units"):
            raise ValueError(f"`attn_mlp` needs hidden_units. Received: {attn_mlp}")
        self.attn_mlp_kwargs = dict(attn_mlp)
        self.exact_match = bool(exact_match)
        self.recency = bool(recency)
        self.attn_mlp = MLP(**self.attn_mlp_kwargs, name="attn_mlp")
        self.score = keras.layers.Dense(1, name="score")

    @property
    def uses_match(self) -> bool:
        """Whether the call takes ``match`` (the feature group then hands it in)."""
        return self.exact_match

    def build(self, query_shape, sequence_shape, mask_shape=None, match_shape=None):
        check_dims("DINEncoder", query_shape[-1], sequence_shape[-1])
        d = sequence_shape[-1]
        width = 4 * d + (match_shape[-1] if self.exact_match and match_shape else 0)
        width += len(RECENCY_TAUS) if self.recency else 0
        self.attn_mlp.build((None, None, width))
        self.score.build((None, None, self.attn_mlp.hidden_units[-1]))

    def attention(self, query, sequence, mask, match=None, training=None):
        """The attention weights [batch, T] (zeros at the padded positions)."""
        q = pad_query(query, sequence.shape[-1])
        queries = ops.broadcast_to(q[:, None, :], ops.shape(sequence))
        parts = [queries, sequence, queries - sequence, queries * sequence]
        if self.exact_match and match is not None:
            parts.append(ops.cast(match, sequence.dtype))
        if self.recency:
            parts.append(self._recency(sequence))
        x = ops.concatenate(parts, -1)
        scores = self.score(self.attn_mlp(x, training=training))[:, :, 0]
        return masked_softmax(scores, mask)

    def call(self, query, sequence, mask, match=None, training=None):
        weights = self.attention(query, sequence, mask, match, training=training)
        if self.exact_match and match is not None:
            sequence = ops.concatenate([sequence, ops.cast(match, sequence.dtype)], -1)
        return weighted_sum(weights, sequence)

    def _recency(self, sequence):
        """[batch, T, len(RECENCY_TAUS)]: exp(-t / tau) of each position t."""
        t = ops.cast(ops.arange(ops.shape(sequence)[1]), sequence.dtype)
        taus = ops.convert_to_tensor(np.array(RECENCY_TAUS, "float32"), sequence.dtype)
        basis = ops.exp(-t[:, None] / taus[None, :])  # [T, R]
        return ops.broadcast_to(
            basis[None], (ops.shape(sequence)[0], ops.shape(sequence)[1], len(RECENCY_TAUS))
        )

    def compute_output_shape(self, query_shape, sequence_shape, mask_shape=None, match_shape=None):
        k = match_shape[-1] if self.exact_match and match_shape else 0
        return (query_shape[0], sequence_shape[-1] + k)

    def get_config(self):
        return {
            **super().get_config(),
            "attn_mlp": self.attn_mlp_kwargs,
            "exact_match": self.exact_match,
            "recency": self.recency,
        }
