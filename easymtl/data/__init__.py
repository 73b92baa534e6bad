"""Input: files → batches of raw columns (features and labels) as a tf.data pipeline.

One reader per ``data_config.dataset_type``, each a ``build_dataset`` function with the
signature of :func:`easymtl.data.csv.build_dataset`; :func:`build_dataset` here picks it.
"""

from __future__ import annotations

import tensorflow as tf

from easymtl.data import csv
from easymtl.data.csv import DTYPES, expand_paths, field_dtype
from easymtl.errors import EasymtlError
from easymtl.protos import data_pb2

# DatasetType name -> reader.
READERS = {"CsvDataset": csv.build_dataset}


def build_dataset(data_config, files, columns, batch_size, training, seed=0) -> tf.data.Dataset:
    """A dataset of ``{column: [batch] tensor}`` dicts from `files`, read by the reader of
    ``data_config.dataset_type`` (arguments as :func:`easymtl.data.csv.build_dataset`)."""
    name = data_pb2.DatasetType.Name(data_config.dataset_type)
    if name not in READERS:
        raise EasymtlError(
            f"data_config.dataset_type: {name} is not supported; expected one of "
            + ", ".join(READERS)
        )
    return READERS[name](data_config, files, columns, batch_size, training, seed)


__all__ = ["DTYPES", "READERS", "build_dataset", "expand_paths", "field_dtype"]
