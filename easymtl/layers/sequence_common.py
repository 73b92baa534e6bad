"""What the sequence encoders share: the query padded to the sequence's width, and the
softmax over the valid positions of a sequence."""

from __future__ import annotations

from keras import ops

# Score of a padded position before the softmax: its weight underflows to exactly 0.
_MASKED = -1e9


def pad_query(query, sequence_dim: int):
    """`query` [batch, q] padded with zeros to [batch, sequence_dim] (TorchEasyRec pads a
    query narrower than the sequence the same way)."""
    query_dim = query.shape[-1]
    if query_dim == sequence_dim:
        return query
    return ops.pad(query, [[0, 0], [0, sequence_dim - query_dim]])


def check_dims(name: str, query_dim: int | None, sequence_dim: int | None) -> None:
    """Raises ValueError where the query is wider than the sequence."""
    if query_dim is None or sequence_dim is None:
        raise ValueError(f"{name} needs a known last dimension of query and sequence.")
    if query_dim > sequence_dim:
        raise ValueError(
            f"{name}: the query ({query_dim}) must not be wider than the sequence ({sequence_dim})."
        )


def masked_softmax(scores, mask):
    """Softmax of `scores` [batch, T] over the positions where `mask` is True; rows with
    no valid position get all-zero weights."""
    mask = ops.cast(mask, scores.dtype)
    scores = ops.where(mask > 0, scores, ops.full_like(scores, _MASKED))
    return ops.softmax(scores, axis=-1) * mask


def weighted_sum(weights, sequence):
    """sum_t weights[b, t] * sequence[b, t, :] → [batch, d]."""
    return ops.sum(weights[:, :, None] * sequence, axis=1)
