import numpy as np
import pytest
from google.protobuf import text_format

from easymtl.losses import build_loss
from easymtl.protos import loss_pb2


def huber(text: str = ""):
    return build_loss(text_format.Parse(f"huber_loss {{ {text} }}", loss_pb2.LossConfig()))[1]


def test_quadratic_inside_delta_linear_outside():
    labels = np.array([0.0, 0.0, 5.0], "float32")
    values = np.array([0.5, -3.0, 5.0], "float32")
    # 0.5 * 0.5^2; 1 * (3 - 0.5); 0
    np.testing.assert_allclose(huber()(labels, values), [0.125, 2.5, 0.0])
    # delta 2: 0.5 * 0.5^2; 2 * (3 - 1); 0
    np.testing.assert_allclose(huber("delta: 2")(labels, values), [0.125, 4.0, 0.0])


def test_bad_delta_raises():
    with pytest.raises(ValueError, match="`delta`"):
        huber("delta: 0")
