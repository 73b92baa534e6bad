"""Input: files → batches of raw columns (features and labels) as a tf.data pipeline.

One reader per ``data_config.dataset_type``, each a ``build_dataset`` function with the
signature of :func:`easymtl.data.csv.build_dataset`, registered in :data:`READERS` by the
DatasetType name; :func:`build_dataset` here picks it. This module loads no TensorFlow
(validation reads READERS' names); the readers and the names re-exported below load it
when first used.
"""

from __future__ import annotations

import importlib

from easymtl.errors import EasymtlError
from easymtl.registry import Registry

READERS = Registry("reader")
READERS.register("CsvDataset", "easymtl.data.csv:build_dataset")
READERS.register("ParquetDataset", "easymtl.data.parquet:build_dataset")


def build_dataset(data_config, files, columns, batch_size, training, seed=0, checks=None):
    """A dataset of ``{column: [batch] tensor}`` dicts from `files`, read by the reader of
    ``data_config.dataset_type`` (arguments as :func:`easymtl.data.csv.build_dataset`).

    With `checks` (a :class:`~easymtl.data.checks.RowChecks`), each batch also holds
    ``BAD_ROWS``: the rows that break them are dropped and counted (``bad_row_policy:
    SKIP``) or only counted (STOP); iterate it with :class:`~easymtl.data.checks.BadRows`.
    """
    from easymtl.data.checks import with_checks
    from easymtl.data.labels import source_columns, with_derived_labels
    from easymtl.protos import data_pb2

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
    return dataset.with_options(_options())


def _options():
    """The pipelines' tf.data options: no autotuning thread. An iterator with one, when
    destroyed, waits for that thread's next wake-up (measured: up to 20 s a time, inside
    whatever step or garbage collection frees it); without it the bench's MMoE trains
    and evaluates as fast (2 cores: 39,525 and 40,927 training examples/s with it,
    41,640 and 39,899 without; AUC the same)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options


# name -> the module it is re-exported from (imported, with TensorFlow, on first use)
_LAZY = {
    "BAD_ROWS": "easymtl.data.checks",
    "BadRows": "easymtl.data.checks",
    "RowChecks": "easymtl.data.checks",
    "check_files": "easymtl.data.checks",
    "DTYPES": "easymtl.data.csv",
    "expand_paths": "easymtl.data.paths",
    "field_dtype": "easymtl.data.csv",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["READERS", "build_dataset", *_LAZY]
