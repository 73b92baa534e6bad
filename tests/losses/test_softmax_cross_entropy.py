import math

import numpy as np
import pytest
from google.protobuf import text_format

from easymtl.losses import build_loss
from easymtl.protos import loss_pb2


def softmax_ce(text: str = ""):
    return build_loss(
        text_format.Parse(f"softmax_cross_entropy {{ {text} }}", loss_pb2.LossConfig())
    )[1]


LOGITS = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], "float32")


def log_softmax(row):
    z = math.log(sum(math.exp(v) for v in row))
    return [v - z for v in row]


def test_values_by_hand():
    got = softmax_ce()(np.array([2.0, 0.0], "float32"), LOGITS)
    np.testing.assert_allclose(got, [-log_softmax([1, 2, 3])[2], math.log(3)], rtol=1e-6)


def test_label_smoothing():
    got = softmax_ce("label_smoothing: 0.3")(np.array([2.0], "float32"), LOGITS[:1])
    target = [0.1, 0.1, 0.8]  # 0.3 / 3 everywhere, plus 0.7 on the label
    expected = -sum(t * lp for t, lp in zip(target, log_softmax([1, 2, 3])))
    np.testing.assert_allclose(got, [expected], rtol=1e-6)


def test_bad_smoothing_raises():
    with pytest.raises(ValueError, match="`label_smoothing`"):
        softmax_ce("label_smoothing: -0.1")
