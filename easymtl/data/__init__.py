"""Input: files → batches of raw columns (features and labels) as a tf.data pipeline.

One reader per ``data_config.dataset_type``, each a ``build_dataset`` function with the
signature of :func:`easymtl.data.csv.build_dataset`; :func:`build_dataset` here picks it.
"""

from __future__ import annotations

import tensorflow as tf

from easymtl.data import csv, parquet
from easymtl.data.checks import BAD_ROWS, BadRows, RowChecks, check_files, with_checks
from easymtl.data.csv import DTYPES, expand_paths, field_dtype
from easymtl.data.labels import source_columns, with_derived_labels
from easymtl.errors import EasymtlError
from easymtl.protos import data_pb2

# DatasetType name -> reader.
READERS = {"CsvDataset": csv.build_dataset, "ParquetDataset": parquet.build_dataset}


def build_dataset(
    data_config, files, columns, batch_size, training, seed=0, checks: RowChecks | None = None
) -> tf.data.Dataset:
    """A dataset of ``{column: [batch] tensor}`` dicts from `files`, read by the reader of
    ``data_config.dataset_type`` (arguments as :func:`easymtl.data.csv.build_dataset`).

    With `checks`, each batch also holds ``BAD_ROWS``: the rows that break them are
    dropped and counted (``bad_row_policy: SKIP``) or only counted (STOP); iterate it with
    :class:`~easymtl.data.checks.BadRows`.
    """
    name = data_pb2.DatasetType.Name(data_config.dataset_type)
    if name not in READERS:
        raise EasymtlError(
            f"data_config.dataset_type: {name} is not supported; expected one of "
            + ", ".join(READERS)
        )
    read = source_columns(data_config, columns)
    dataset = READERS[name](data_config, files, read, batch_size, training, seed)
    dataset = with_derived_labels(dataset, data_config, columns)
    if checks is not None:
        dataset = with_checks(dataset, checks, data_config.bad_row_policy)
    return dataset


__all__ = [
    "BAD_ROWS",
    "DTYPES",
    "READERS",
    "BadRows",
    "RowChecks",
    "build_dataset",
    "check_files",
    "expand_paths",
    "field_dtype",
]
