"""DIN target attention over a behaviour sequence (Zhou et al., KDD 2018)."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.mlp import MLP
from easymtl.layers.sequence_common import check_dims, masked_softmax, pad_query, weighted_sum


@keras.saving.register_keras_serializable(package="easymtl")
class DINEncoder(keras.layers.Layer):
    """The candidate (query) attends to the valid positions of a sequence.

    Position t scores ``a_t = w · MLP([q, s_t, q − s_t, q ⊙ s_t]) + b``; the output is
    ``Σ_t softmax(a)_t s_t`` over the valid positions (where `mask` is True), as
    TorchEasyRec's ``DINEncoder`` computes it. A query narrower than the sequence is
    padded with zeros; a row with no valid position gives zeros.

    Args:
        attn_mlp: Keyword arguments of the score's :class:`MLP` (e.g.
            ``{"hidden_units": [32, 8]}``).

    Call args:
        query: [batch, q] with q ≤ d.
        sequence: [batch, T, d].
        mask: [batch, T] bool, True at valid positions.

    Returns:
        [batch, d].

    Example:
        >>> din = DINEncoder({"hidden_units": [4]})
        >>> din(ops.ones((2, 3)), ops.ones((2, 5, 3)), ops.ones((2, 5), "bool")).shape
        (2, 3)
    """

    def __init__(self, attn_mlp: dict, **kwargs):
        super().__init__(**kwargs)
        if not attn_mlp or not attn_mlp.get("hidden_units"):
            raise ValueError(f"`attn_mlp` needs hidden_units. Received: {attn_mlp}")
        self.attn_mlp_kwargs = dict(attn_mlp)
        self.attn_mlp = MLP(**self.attn_mlp_kwargs, name="attn_mlp")
        self.score = keras.layers.Dense(1, name="score")

    def build(self, query_shape, sequence_shape, mask_shape=None):
        check_dims("DINEncoder", query_shape[-1], sequence_shape[-1])
        d = sequence_shape[-1]
        self.attn_mlp.build((None, None, 4 * d))
        self.score.build((None, None, self.attn_mlp.hidden_units[-1]))

    def call(self, query, sequence, mask, training=None):
        q = pad_query(query, sequence.shape[-1])
        queries = ops.broadcast_to(q[:, None, :], ops.shape(sequence))
        x = ops.concatenate([queries, sequence, queries - sequence, queries * sequence], -1)
        scores = self.score(self.attn_mlp(x, training=training))[:, :, 0]
        return weighted_sum(masked_softmax(scores, mask), sequence)

    def compute_output_shape(self, query_shape, sequence_shape, mask_shape=None):
        return (query_shape[0], sequence_shape[-1])

    def get_config(self):
        return {**super().get_config(), "attn_mlp": self.attn_mlp_kwargs}
