"""Multi-window DIN: attention-weighted averages over windows of recent positions."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from easymtl.layers.mlp import MLP
from easymtl.layers.sequence_common import check_dims, pad_query


@keras.saving.register_keras_serializable(package="easymtl")
class MultiWindowDINEncoder(keras.layers.Layer):
    """DIN scores averaged within consecutive windows of positions, so that recency
    counts: the first window holds the first (most recent) positions.

    Position t scores ``a_t = PReLU(w · MLP([s_t, q ⊙ s_t, q]) + b)`` (no softmax). Window
    k covers positions ``[c_k, c_k + windows_len[k])`` with ``c_k = Σ_{j<k}
    windows_len[j]``; its vector is ``Σ_t a_t s_t`` over the valid positions in it,
    divided by their number (at least 1). The output is the windows' vectors and the
    (zero-padded) query, concatenated, as TorchEasyRec's ``MultiWindowDINEncoder``
    computes it. Positions after the last window are not read.

    Args:
        attn_mlp: Keyword arguments of the score's :class:`MLP`.
        windows_len: Length of each window, first (most recent) to last.

    Call args:
        query: [batch, q] with q ≤ d.
        sequence: [batch, T, d].
        mask: [batch, T] bool, True at valid positions (a prefix of each row).

    Returns:
        [batch, (len(windows_len) + 1) * d].

    Example:
        >>> enc = MultiWindowDINEncoder({"hidden_units": [4]}, [2, 3])
        >>> enc(ops.ones((2, 3)), ops.ones((2, 6, 3)), ops.ones((2, 6), "bool")).shape
        (2, 9)
    """

    def __init__(self, attn_mlp: dict, windows_len: list[int], **kwargs):
        super().__init__(**kwargs)
        if not attn_mlp or not attn_mlp.get("hidden_units"):
            raise ValueError(f"`attn_mlp` needs hidden_units. Received: {attn_mlp}")
        windows_len = [int(w) for w in windows_len]
        if not windows_len or min(windows_len) <= 0:
            raise ValueError(
                f"`windows_len` must be a non-empty list of positive ints. Received: {windows_len}"
            )
        self.attn_mlp_kwargs = dict(attn_mlp)
        self.windows_len = windows_len
        self.attn_mlp = MLP(**self.attn_mlp_kwargs, name="attn_mlp")
        self.score = keras.layers.Dense(1, name="score")
        # torch.nn.PReLU's initial slope.
        self.prelu = keras.layers.PReLU(
            alpha_initializer=keras.initializers.Constant(0.25), shared_axes=[1], name="prelu"
        )
        total = sum(windows_len)
        starts = np.cumsum([0] + windows_len[:-1])
        # segments[t, k] = 1 where position t is in window k.
        segments = np.zeros((total, len(windows_len)), "float32")
        for k, (start, length) in enumerate(zip(starts, windows_len)):
            segments[start : start + length, k] = 1.0
        self._segments = segments
        self._starts = starts.astype("float32")

    def build(self, query_shape, sequence_shape, mask_shape=None):
        check_dims("MultiWindowDINEncoder", query_shape[-1], sequence_shape[-1])
        d = sequence_shape[-1]
        self.attn_mlp.build((None, None, 3 * d))
        self.score.build((None, None, self.attn_mlp.hidden_units[-1]))
        self.prelu.build((None, None, 1))

    def call(self, query, sequence, mask, training=None):
        d = sequence.shape[-1]
        q = pad_query(query, d)
        queries = ops.broadcast_to(q[:, None, :], ops.shape(sequence))
        x = ops.concatenate([sequence, queries * sequence, queries], axis=-1)
        scores = self.prelu(self.score(self.attn_mlp(x, training=training)))  # [B, T, 1]
        valid = ops.cast(mask, sequence.dtype)
        weighted = scores * valid[:, :, None] * sequence
        total = sum(self.windows_len)
        steps = ops.shape(sequence)[1]
        # Pad (or cut) the positions to exactly the windows' total.
        weighted = ops.pad(weighted, [[0, 0], [0, ops.maximum(total - steps, 0)], [0, 0]])
        weighted = weighted[:, :total, :]
        segments = ops.convert_to_tensor(self._segments, sequence.dtype)
        windows = ops.einsum("btd,tk->bkd", weighted, segments)
        length = ops.sum(valid, axis=1, keepdims=True)  # [B, 1]
        counts = ops.minimum(
            length - ops.convert_to_tensor(self._starts, sequence.dtype)[None, :],
            ops.convert_to_tensor(np.array(self.windows_len, "float32"), sequence.dtype),
        )
        windows = windows / ops.maximum(counts, 1.0)[:, :, None]
        out = ops.concatenate([windows, q[:, None, :]], axis=1)
        return ops.reshape(out, (-1, (len(self.windows_len) + 1) * d))

    def compute_output_shape(self, query_shape, sequence_shape, mask_shape=None):
        return (query_shape[0], (len(self.windows_len) + 1) * sequence_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "attn_mlp": self.attn_mlp_kwargs,
            "windows_len": self.windows_len,
        }
