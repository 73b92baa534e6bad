"""CsvDataset: delimited text files read in parallel and parsed a whole batch at a time."""

from __future__ import annotations

import re

import tensorflow as tf

from easymtl.data.checks import (
    BAD_ROWS,
    MAX_COUNTED_FIELDS,
    as_written,
    check_cell_counts,
    valid_lines,
)
from easymtl.data.csv_lines import field_default
from easymtl.protos import data_pb2

# data_config FieldType name -> dtype of the column (and of the serving input).
DTYPES = {
    "INT32": tf.int32,
    "INT64": tf.int64,
    "STRING": tf.string,
    "FLOAT": tf.float32,
    "DOUBLE": tf.float64,
    # List columns (ParquetDataset): [batch, max list length] tensors.
    "ARRAY_INT32": tf.int32,
    "ARRAY_INT64": tf.int64,
    "ARRAY_STRING": tf.string,
    "ARRAY_FLOAT": tf.float32,
    "ARRAY_DOUBLE": tf.float64,
}


def build_dataset(
    data_config,
    files: list[str],
    columns: list[str],
    batch_size: int,
    training: bool,
    seed: int = 0,
) -> tf.data.Dataset:
    """A dataset of ``{column: [batch] tensor}`` dicts read from CSV `files` (gzip
    compressed where a name ends in ``.gz``).

    Files are read in parallel and interleaved in blocks of 128 lines; when training
    with ``data_config.shuffle``, the files' order and each window of
    ``shuffle_buffer_size`` lines are shuffled (a permutation per window, seeded by
    `seed` and the window's number). Lines are batched, then parsed a batch at a time
    by one ``decode_csv``, which reads RFC 4180 quoted cells (see
    :mod:`easymtl.data.csv_lines`) and decodes only `columns` (and the last column); a
    line whose cells do not match ``data_config.input_fields`` in number stops reading. With
    ``bad_row_policy: SKIP``, lines that would not decode are dropped first and counted
    in each batch's ``BAD_ROWS``.

    Args:
        data_config: The DataConfig message.
        files: The CSV files.
        columns: The input fields to decode (features and labels).
        batch_size: Rows per batch.
        training: Shuffle (if configured) and apply ``drop_remainder``.
        seed: Shuffle seed (vary it per epoch for a new order each epoch).
    """
    fields = list(data_config.input_fields)
    wanted = set(columns)
    # Every line must hold exactly len(fields) cells. Without select_cols, decode_csv
    # counts them itself; with it (cheaper when some columns are not used: their cells
    # are never copied out), it refuses fewer, as the last column is always selected,
    # but drops more unseen, so a pattern match finds those (see check_cell_counts).
    used = {i for i, f in enumerate(fields) if f.input_name in wanted}
    if len(used) == len(fields) or len(fields) > MAX_COUNTED_FIELDS:
        selected = list(range(len(fields)))
    else:
        selected = sorted(used | {len(fields) - 1})
    defaults = [
        _record_default(fields[i], data_config)
        if fields[i].input_name in wanted
        else tf.constant([""])
        for i in selected
    ]
    select_cols = None if len(selected) == len(fields) else selected
    skip = 1 if data_config.with_header else 0

    ds = tf.data.Dataset.from_tensor_slices(files)
    if training and data_config.shuffle:
        ds = ds.shuffle(len(files), seed=seed)
    # Each file yields blocks of lines: the parallel interleave pays for every element
    # it hands between threads, which for single lines cost more than decoding them.
    ds = ds.interleave(
        as_written(
            lambda f: (
                tf.data.TextLineDataset(f, compression_type=_compression(f))
                .skip(skip)
                .batch(_LINES_PER_BLOCK)
            )
        ),
        cycle_length=max(1, min(len(files), data_config.num_workers)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    drop_remainder = training and data_config.drop_remainder
    if training and data_config.shuffle:
        # A random permutation of each window of shuffle_buffer_size lines (as
        # ParquetDataset shuffles): a few ops per window, where a shuffle buffer of
        # single lines costs a few per line.
        window = max(1, data_config.shuffle_buffer_size)
        ds = ds.rebatch(window).enumerate()
        ds = ds.map(
            as_written(
                lambda i, lines: tf.random.experimental.stateless_shuffle(
                    lines, seed=tf.stack([tf.constant(seed, tf.int64), i])
                )
            )
        )
    ds = ds.rebatch(batch_size, drop_remainder=drop_remainder)

    skip_bad = data_config.bad_row_policy == data_pb2.DataConfig.SKIP

    def parse(lines):
        if data_config.skip_initial_space:
            delimiter = re.escape(data_config.delimiter)
            lines = tf.strings.regex_replace(lines, delimiter + " +", data_config.delimiter)
        if skip_bad:  # what is left has as many cells as fields
            ok = valid_lines(lines, data_config, wanted)
            dropped = tf.reduce_sum(tf.cast(tf.logical_not(ok), tf.int64))
            lines = tf.boolean_mask(lines, ok)
        elif select_cols is not None:
            with tf.control_dependencies([check_cell_counts(lines, data_config)]):
                lines = tf.identity(lines)
        values = tf.io.decode_csv(
            lines,
            record_defaults=defaults,
            field_delim=data_config.delimiter,
            select_cols=select_cols,
        )
        batch = {
            fields[i].input_name: v
            for i, v in zip(selected, values)
            if fields[i].input_name in wanted
        }
        if skip_bad:
            batch[BAD_ROWS] = dropped
        return batch

    return ds.map(as_written(parse), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


# Lines a file yields at a time to the interleave (see build_dataset).
_LINES_PER_BLOCK = 128


def _compression(path: tf.Tensor) -> tf.Tensor:
    """The compression of a file: GZIP where its name ends in .gz, else none."""
    return tf.where(tf.strings.regex_full_match(path, r".*\.gz"), "GZIP", "")


def field_dtype(field) -> tf.DType:
    """The dtype of an input field (and of its serving input)."""
    return DTYPES[data_pb2.FieldType.Name(field.input_type)]


def field_shape(field) -> list[None]:
    """The shape of an input field's batches: [batch], or [batch, list length] (ARRAY_*)."""
    return [None, None] if is_array(field) else [None]


def is_array(field) -> bool:
    """Whether an input field holds a list of values per example (an ARRAY_* type)."""
    return data_pb2.FieldType.Name(field.input_type).startswith("ARRAY_")


def _record_default(field, data_config) -> tf.Tensor:
    """decode_csv's default of a used column: default_val ("" for strings); for a
    number, its default (:func:`~easymtl.data.csv_lines.field_default`), or, without
    one, an empty tensor, which makes an empty value an error."""
    dtype = field_dtype(field)
    if dtype == tf.string:
        return tf.constant([field.default_val], tf.string)
    default = field_default(data_config, field)
    if default is None:
        return tf.constant([], dtype)
    value = float(default)
    return tf.constant([int(value) if dtype.is_integer else value], dtype)
