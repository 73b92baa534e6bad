"""ESMM's computation (Ma et al., SIGIR 2018): the logit of pCTCVR = pCTR x pCVR. The
model with the pCTCVR outputs and the CVR task learned through them are in
:mod:`easymtl.models.esmm_model`."""

from __future__ import annotations

from keras import ops


def ctcvr_logits(ctr_logits, cvr_logits):
    """The logit of sigmoid(a) × sigmoid(b), computed in log space, so that the loss of
    pCTCVR is a sigmoid cross entropy that stays finite and smooth for any a, b.

    log p = log σ(a) + log σ(b); log(1 - p) = log(σ(-a) + σ(a) σ(-b)).
    """
    a, b = ctr_logits, cvr_logits
    log_p = -ops.softplus(-a) - ops.softplus(-b)
    log_not_p = ops.logaddexp(-ops.softplus(a), -ops.softplus(-a) - ops.softplus(b))
    return log_p - log_not_p
