import math

import numpy as np
import pytest

from easymtl.metrics.multiclass_auc import MulticlassAUC
from easymtl.testing import exact_auc


def test_macro_and_weighted_match_exact_one_vs_rest():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 3000)
    labels[labels == 2] = rng.integers(0, 3, (labels == 2).sum())  # unequal supports
    logits = rng.normal(size=(3000, 3)) + 1.5 * np.eye(3)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    per_class = [exact_auc(labels == c, probs[:, c]) for c in range(3)]
    support = np.bincount(labels, minlength=3)
    for average, expected in (
        ("macro", np.mean(per_class)),
        ("weighted", np.average(per_class, weights=support)),
    ):
        auc = MulticlassAUC(3, 1000, average)
        for lo in range(0, 3000, 700):
            auc.update_state(labels[lo : lo + 700], probs[lo : lo + 700])
        assert float(auc.result()) == pytest.approx(expected, abs=2e-3)


def test_class_without_examples_is_left_out():
    auc = MulticlassAUC(3, 100)
    auc.update_state([0, 1, 0], [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1]])
    assert float(auc.result()) == pytest.approx(1.0)
    # Class 0 ranks 1.0, class 1 0.0; class 2 is absent and must not pull the mean to 1/3.
    auc = MulticlassAUC(3, 100)
    auc.update_state([0, 1], [[0.7, 0.2, 0.1], [0.3, 0.1, 0.6]])
    assert float(auc.result()) == pytest.approx(0.5)


def test_a_single_class_is_undefined():
    auc = MulticlassAUC(3, 100)
    auc.update_state([2, 2], [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    assert math.isnan(float(auc.result()))


def test_bad_arguments_and_config_round_trip():
    with pytest.raises(ValueError, match="`average`"):
        MulticlassAUC(3, average="micro")
    with pytest.raises(ValueError, match="`num_class`"):
        MulticlassAUC(1)
    auc = MulticlassAUC(4, 50, "weighted", name="multiclass_auc_level")
    again = MulticlassAUC.from_config(auc.get_config())
    assert (again.num_class, again.num_buckets, again.average, again.name) == (
        4,
        50,
        "weighted",
        "multiclass_auc_level",
    )
