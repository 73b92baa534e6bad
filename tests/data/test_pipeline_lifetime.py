"""The input pipelines' lifetime: no tf.data autotuning thread (destroying an iterator
that has one waits for its next wake-up, seconds inside whatever frees it), and the
training pipeline ends with the training loop, not in a later garbage collection."""

from __future__ import annotations

import pytest
from conftest import FEW_FEATURES, SAMPLES, make_config

from easymtl.config import load_config
from easymtl.data import build_dataset


@pytest.mark.parametrize("kind", ["CsvDataset", "ParquetDataset"])
def test_pipelines_have_no_autotuning_thread(tmp_path, kind):
    from easymtl.protos import data_pb2

    config = load_config(str(make_config(tmp_path, features=FEW_FEATURES)))
    data = config.data_config
    path = SAMPLES / "data" / "taobao_mtl_train.csv"
    if kind == "ParquetDataset":
        from easymtl.testing import csv_to_parquet

        path = tmp_path / "train.parquet"
        csv_to_parquet(SAMPLES / "data" / "taobao_mtl_train.csv", data.input_fields, path)
    data.dataset_type = data_pb2.DatasetType.Value(kind)
    dataset = build_dataset(data, [str(path)], ["clk", "price"], 8, training=True)
    assert dataset.options().autotune.enabled is False
    assert set(next(iter(dataset))) >= {"clk", "price"}


def test_the_training_pipeline_ends_with_the_loop(tmp_path):
    from easymtl.runner import Runner

    config = load_config(
        str(make_config(tmp_path, extra="train_config { num_steps: 2 }", features=FEW_FEATURES))
    )
    runner = Runner(config)
    schedules = []
    make = runner.schedule
    runner.schedule = lambda num_epochs: schedules.append(make(num_epochs)) or schedules[-1]
    runner.train()
    (schedule,) = schedules
    assert schedule.batches.gi_frame is None  # closed: its iterator is gone
