import math

import numpy as np
import pytest
from google.protobuf import text_format

from easymtl.losses import build_loss
from easymtl.protos import loss_pb2


def bce(config_text: str):
    return build_loss(text_format.Parse(config_text, loss_pb2.LossConfig()))


def test_values_by_hand():
    name, fn = bce("binary_cross_entropy {}")
    assert name == "binary_cross_entropy"
    got = fn(np.array([1.0, 0.0, 1.0], "float32"), np.array([0.0, 2.0, -1.0], "float32"))
    # -log(sigmoid(0)), -log(1 - sigmoid(2)), -log(sigmoid(-1))
    expected = [math.log(2), math.log(1 + math.e**2), math.log(1 + math.e)]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_label_smoothing_moves_labels_towards_one_half():
    _, fn = bce("binary_cross_entropy { label_smoothing: 0.2 }")
    got = fn(np.array([1.0, 0.0], "float32"), np.array([2.0, 2.0], "float32"))
    p = 1 / (1 + math.exp(-2))
    expected = [
        -(0.9 * math.log(p) + 0.1 * math.log(1 - p)),
        -(0.1 * math.log(p) + 0.9 * math.log(1 - p)),
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_bad_smoothing_raises():
    with pytest.raises(ValueError, match="`label_smoothing`"):
        bce("binary_cross_entropy { label_smoothing: 1.0 }")
