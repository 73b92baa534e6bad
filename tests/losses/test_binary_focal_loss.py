import math

import numpy as np
import pytest
from google.protobuf import text_format

from easymtl.losses import build_loss
from easymtl.protos import loss_pb2


def focal(text: str):
    return build_loss(text_format.Parse(text, loss_pb2.LossConfig()))[1]


def test_values_by_hand():
    fn = focal("binary_focal_loss { gamma: 2 alpha: 0.25 }")
    got = fn(np.array([1.0, 0.0], "float32"), np.array([0.0, 2.0], "float32"))
    p = 1 / (1 + math.exp(-2))
    expected = [
        0.25 * (1 - 0.5) ** 2 * -math.log(0.5),  # positive at p = 0.5
        0.75 * p**2 * -math.log(1 - p),  # negative at p = sigmoid(2)
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_gamma_zero_alpha_half_is_half_the_cross_entropy():
    fn = focal("binary_focal_loss { gamma: 0 alpha: 0.5 }")
    bce = build_loss(text_format.Parse("binary_cross_entropy {}", loss_pb2.LossConfig()))[1]
    labels = np.array([1.0, 0.0, 1.0], "float32")
    logits = np.array([0.3, -1.2, 4.0], "float32")
    np.testing.assert_allclose(fn(labels, logits), 0.5 * bce(labels, logits), rtol=1e-6)


@pytest.mark.parametrize(
    "text, field", [("gamma: -1", "`gamma`"), ("alpha: 0", "`alpha`"), ("alpha: 1", "`alpha`")]
)
def test_bad_options_raise(text, field):
    with pytest.raises(ValueError, match=field):
        focal(f"binary_focal_loss {{ {text} }}")
