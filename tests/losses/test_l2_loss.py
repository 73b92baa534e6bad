import numpy as np
from google.protobuf import text_format

from easymtl.losses import LOSSES, build_loss
from easymtl.protos import loss_pb2


def test_squared_error_by_hand():
    name, fn = build_loss(text_format.Parse("l2_loss {}", loss_pb2.LossConfig()))
    assert LOSSES.entry(name).task_type == "regression"
    got = fn(np.array([3.0, 2.5, -1.0], "float32"), np.array([1.0, 2.0, 1.0], "float32"))
    np.testing.assert_allclose(got, [4.0, 0.25, 4.0])
