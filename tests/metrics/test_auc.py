import math

import numpy as np
import pytest

from easymtl.metrics.auc import StreamingAUC
from easymtl.testing import exact_auc


def test_ties_count_half():
    auc = StreamingAUC(1000)
    auc.update_state([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9])
    assert float(auc.result()) == pytest.approx(3.5 / 4)


@pytest.mark.parametrize("base_rate", [0.3, 0.01])
def test_streaming_matches_exact_over_batches(base_rate):
    rng = np.random.default_rng(0)
    logits = rng.normal(np.log(base_rate / (1 - base_rate)), 1.0, 20000)
    probs = 1 / (1 + np.exp(-logits))
    labels = rng.random(20000) < 1 / (1 + np.exp(-(logits + rng.normal(0, 1.5, 20000))))
    auc = StreamingAUC(1000)
    for lo in range(0, 20000, 4096):
        auc.update_state(labels[lo : lo + 4096], probs[lo : lo + 4096])
    assert float(auc.result()) == pytest.approx(exact_auc(labels, probs), abs=1e-3)


def test_sample_weight_counts_rows():
    weighted = StreamingAUC(100)
    weighted.update_state([1, 0, 0], [0.9, 0.1, 0.95], sample_weight=[1, 2, 0])
    assert float(weighted.result()) == pytest.approx(1.0)


def test_reset_and_config_round_trip():
    auc = StreamingAUC(50, name="auc_ctr")
    auc.update_state([1, 0], [0.9, 0.1])
    auc.reset_state()
    assert math.isnan(float(auc.result()))
    again = StreamingAUC.from_config(auc.get_config())
    assert again.num_buckets == 50 and again.name == "auc_ctr"


@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1, 1]])
def test_one_class_is_undefined_not_zero(labels):
    auc = StreamingAUC(100)
    auc.update_state(labels, [0.2, 0.5, 0.9])
    assert math.isnan(float(auc.result()))
    auc.update_state([1 - labels[0]], [0.4])  # one row of the other class defines it
    assert 0.0 <= float(auc.result()) <= 1.0


def test_rejects_too_few_buckets():
    with pytest.raises(ValueError, match="num_buckets"):
        StreamingAUC(1)
