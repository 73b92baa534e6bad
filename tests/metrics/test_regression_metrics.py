import pytest

from easymtl.metrics.mean_absolute_error import MeanAbsoluteError
from easymtl.metrics.mean_squared_error import MeanSquaredError


def test_every_row_counts_once_across_uneven_batches():
    mse, mae = MeanSquaredError(name="mean_squared_error_t"), MeanAbsoluteError()
    for metric in (mse, mae):
        metric.update_state([1.0, 2.0, 0.0], [2.0, 4.0, 0.0])
        metric.update_state([5.0], [1.0])
    assert float(mse.result()) == pytest.approx((1 + 4 + 0 + 16) / 4)
    assert float(mae.result()) == pytest.approx((1 + 2 + 0 + 4) / 4)
    assert MeanSquaredError.from_config(mse.get_config()).name == "mean_squared_error_t"
