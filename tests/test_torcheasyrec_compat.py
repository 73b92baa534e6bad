"""TorchEasyRec configs mean what they mean there: fields accepted as TorchEasyRec accepts
them, and the defaults audit of docs/coming_from_torcheasyrec.md, row by row."""

from __future__ import annotations

import logging

from easymtl.config import load_config
from tests.conftest import make_config


def test_odps_only_data_fields_are_ignored_with_one_info_line(tmp_path, caplog):
    path = make_config(
        tmp_path,
        extra='data_config { odps_data_quota_name: "" odps_data_compression: "ZSTD" '
        "is_orderby_partition: true }",
    )
    with caplog.at_level(logging.INFO, logger="easymtl"):
        config = load_config(str(path))
    assert config.data_config.odps_data_quota_name == ""
    lines = [r.getMessage() for r in caplog.records if "OdpsDataset only" in r.getMessage()]
    assert lines == [
        "data_config.is_orderby_partition, odps_data_quota_name, odps_data_compression: "
        "OdpsDataset only; ignored for CsvDataset"
    ]


def test_no_info_line_without_odps_fields(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="easymtl"):
        load_config(str(make_config(tmp_path)))
    assert not [r for r in caplog.records if "OdpsDataset" in r.getMessage()]
