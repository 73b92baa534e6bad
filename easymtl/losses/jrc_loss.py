"""jrc_loss: JRC (Sheng et al., "Joint Optimization of Ranking and Calibration with
Contextualized Hybrid Model", KDD 2023, arXiv 2208.06164), TorchEasyRec's ``jrc_loss``.

A two-class tower (num_class 2, logits [batch, 2]) learns a calibrated probability by
cross entropy and a ranking within each session (rows sharing a session id, e.g. a user
or a request) by a listwise softmax: a positive row competes, on its class-1 logit, with
the negatives of its session; a negative row, on its class-0 logit, with the positives of
its session. Per row: ``alpha * CE + (1 - alpha) * ranking``, as TorchEasyRec computes it
(rows outside the session get -1e9 added to their logits, as there).
"""

import tensorflow as tf

_MASKED = -1e9


def jrc_loss(labels, logits, session_ids, alpha: float = 0.5):
    """Per-example JRC loss of logits [batch, 2] against 0/1 labels [batch], with rows of
    equal `session_ids` [batch] (any dtype) in one session."""
    y = tf.cast(labels, tf.int32)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    same = tf.cast(tf.equal(session_ids[:, None], session_ids[None, :]), logits.dtype)
    rows = tf.shape(y)[0]
    eye = tf.eye(rows, dtype=logits.dtype)
    alike = tf.cast(tf.equal(y[:, None], y[None, :]), logits.dtype)
    # Row i scores every row j on the logit of i's own class, masking rows of other
    # sessions and, but for i itself, rows of i's class.
    own = tf.where(tf.equal(y, 1)[:, None], logits[None, :, 1], logits[None, :, 0])
    scores = own + ((1.0 - same) + (1.0 - eye) * alike) * _MASKED
    ranking = tf.reduce_logsumexp(scores, axis=1) - tf.linalg.diag_part(scores)
    return alpha * ce + (1.0 - alpha) * ranking


def build_jrc_loss(config):
    """The loss of a JRCLoss message: ``fn(labels, logits, session_ids)``."""
    alpha = config.alpha
    return lambda labels, logits, session_ids: jrc_loss(labels, logits, session_ids, alpha)
