"""Input: files → batches of raw columns (features and labels) as a tf.data pipeline."""

from easymtl.data.csv import DTYPES, build_dataset, expand_paths, field_dtype

__all__ = ["DTYPES", "build_dataset", "expand_paths", "field_dtype"]
