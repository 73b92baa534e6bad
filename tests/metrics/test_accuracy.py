import pytest

from easymtl.metrics.accuracy import Accuracy


def test_binary_threshold():
    acc = Accuracy(num_class=1, threshold=0.25)
    acc.update_state([1, 0, 1, 0], [0.9, 0.2, 0.3, 0.6])
    assert float(acc.result()) == pytest.approx(0.75)


def test_multiclass_top_k_over_batches():
    probs = [[0.5, 0.3, 0.2], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]]
    top1 = Accuracy(num_class=3)
    top2 = Accuracy(num_class=3, top_k=2)
    for metric in (top1, top2):
        metric.update_state([0, 1], probs[:2])
        metric.update_state([2], probs[2:])
    assert float(top1.result()) == pytest.approx(1 / 3)  # only row 0
    assert float(top2.result()) == pytest.approx(1.0)


def test_bad_top_k_and_round_trip():
    with pytest.raises(ValueError, match="`top_k`"):
        Accuracy(num_class=3, top_k=4)
    acc = Accuracy(num_class=5, top_k=2, name="accuracy_level")
    again = Accuracy.from_config(acc.get_config())
    assert (again.num_class, again.top_k, again.name) == (5, 2, "accuracy_level")
