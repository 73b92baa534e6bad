"""log_loss and normalized_entropy against a hand computation, streamed over batches."""

import math

import pytest

from easymtl.metrics.log_loss import LogLoss, NormalizedEntropy

LABELS = [1, 0, 0, 0, 1, 0, 0, 0]
PROBS = [0.5, 0.2, 0.1, 0.4, 0.9, 0.3, 0.05, 0.2]
LOG_LOSS = -sum(math.log(p) if y else math.log(1 - p) for y, p in zip(LABELS, PROBS)) / len(LABELS)
BASE = 2 / 8
ENTROPY = -(BASE * math.log(BASE) + (1 - BASE) * math.log(1 - BASE))


def _stream(metric):
    for lo in (0, 3, 5):
        hi = {0: 3, 3: 5, 5: 8}[lo]
        metric.update_state(LABELS[lo:hi], PROBS[lo:hi])
    return float(metric.result())


def test_log_loss_hand_computed():
    assert _stream(LogLoss()) == pytest.approx(LOG_LOSS, rel=1e-6)


def test_normalized_entropy_hand_computed():
    assert _stream(NormalizedEntropy()) == pytest.approx(LOG_LOSS / ENTROPY, rel=1e-6)


def test_predicting_the_base_rate_is_one_and_one_class_is_undefined():
    ne = NormalizedEntropy()
    ne.update_state(LABELS, [BASE] * len(LABELS))
    assert float(ne.result()) == pytest.approx(1.0, rel=1e-6)
    ne.reset_state()
    ne.update_state([0, 0], [0.1, 0.2])
    assert math.isnan(float(ne.result()))  # entropy 0: no base rate to beat


def test_saturated_probabilities_stay_finite():
    loss = LogLoss()
    loss.update_state([1, 0], [0.0, 1.0])
    assert float(loss.result()) == pytest.approx(-math.log(1e-7), rel=1e-3)
