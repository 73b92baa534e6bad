"""ParquetDataset: Parquet files read with pyarrow a record batch at a time, into batches.

Everything works on whole Arrow columns, never on a row in Python: files are read in
parallel threads and taken in turn (as the CSV reader's interleave does); columns are cast
to their field's type and their nulls filled; rows are shuffled in a buffer and cut into
batches, whose raw buffers a parallel tf.data map turns into tensors.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import tensorflow as tf

from easymtl.data.checks import BAD_ROWS, as_written
from easymtl.data.csv import field_dtype, is_array
from easymtl.data.csv_lines import field_default
from easymtl.errors import EasymtlError
from easymtl.protos import data_pb2

# Rows per record batch read: enough that the Python work per record batch is negligible.
RECORD_ROWS = 65536
# Padding of list columns (see data.proto's FieldType).
PADDING = {tf.string: "", tf.int32: -1, tf.int64: -1, tf.float32: np.nan, tf.float64: np.nan}

_ARROW = {
    "INT32": pa.int32(),
    "INT64": pa.int64(),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
    "STRING": pa.string(),
}
# Raw element keys: why reading stopped (else ""); and, in tables, the bad rows (SKIP).
_ERROR = "__error__"
_BAD = "__bad__"


class _DataError(Exception):
    """Bad data met while reading; ends the dataset with an error naming file and column."""


def field_type(arrow_type: pa.DataType) -> str | None:
    """The FieldType name of values of `arrow_type`, or None where there is none."""
    t = arrow_type
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        inner = field_type(t.value_type)
        return f"ARRAY_{inner}" if inner and not inner.startswith("ARRAY_") else None
    if pa.types.is_dictionary(t):
        return field_type(t.value_type)
    if pa.types.is_boolean(t):
        return "INT32"
    if pa.types.is_integer(t):
        return "INT32" if t.bit_width < 32 or t == pa.int32() else "INT64"
    if pa.types.is_floating(t):
        return "DOUBLE" if t.bit_width == 64 else "FLOAT"
    if _is_text(t):
        return "STRING"
    return None


def schema_fields(path: str) -> list[data_pb2.Field]:
    """input_fields for a Parquet file: every column, typed by the file schema.

    Raises:
        EasymtlError: The file cannot be read, or a column has a type with no FieldType.
    """
    fields = []
    for column in _metadata(path).schema.to_arrow_schema():
        kind = field_type(column.type)
        if kind is None:
            raise EasymtlError(
                f"{path}: column {column.name!r} has type {column.type}, which easymtl cannot "
                "read; list the columns to read in data_config.input_fields"
            )
        fields.append(
            data_pb2.Field(input_name=column.name, input_type=data_pb2.FieldType.Value(kind))
        )
    return fields


def build_dataset(
    data_config,
    files: list[str],
    columns: list[str],
    batch_size: int,
    training: bool,
    seed: int = 0,
) -> tf.data.Dataset:
    """A dataset of ``{column: tensor}`` dicts read from Parquet `files`: [batch] tensors,
    and [batch, longest list] for ARRAY_* fields (padded with "", -1 or NaN).

    Only `columns` are read, a record batch at a time, from up to
    ``data_config.num_workers`` files at once. When training with ``data_config.shuffle``,
    the file order is shuffled and rows pass through a buffer of ``shuffle_buffer_size``
    rows: once full it is permuted and all but half of it emitted. Null strings read "",
    null lists as empty, null numbers as ``default_val`` (or data_config's
    ``int_default_val`` / ``float_default_val``, not for labels and sample weights);
    with ``bad_row_policy: SKIP``, rows with a null number and no default are dropped and
    counted in ``BAD_ROWS``.

    Args:
        data_config: The DataConfig message.
        files: The Parquet files.
        columns: The input fields to read (features and labels).
        batch_size: Rows per batch.
        training: Shuffle (if configured) and apply ``drop_remainder``.
        seed: Shuffle seed (vary it per epoch for a new order each epoch).

    Raises:
        EasymtlError: A file cannot be read, lacks a column, has one of the wrong kind, or
            (as its statistics say) nulls in a numeric column without default_val. Such
            nulls found later, and values that do not fit their field's type, end the
            iteration with an error naming the file and column.
    """
    index = {f.input_name: f for f in data_config.input_fields}
    fields = [_with_default(index[name], data_config) for name in dict.fromkeys(columns)]
    skip_bad = data_config.bad_row_policy == data_pb2.DataConfig.SKIP
    for path in files:
        _check_file(path, fields, skip_bad)
    shuffle = training and data_config.shuffle
    drop_remainder = training and data_config.drop_remainder
    cycle_length = max(1, min(len(files), data_config.num_workers))

    # Python hands tf.data groups of whole batches (from_generator costs much per element).
    group = max(1, RECORD_ROWS // batch_size) * batch_size

    def read(path):
        return _read_file(path, fields, skip_bad)

    def generate():
        rng = np.random.default_rng(seed)
        order = [files[i] for i in rng.permutation(len(files))] if shuffle else list(files)
        try:
            tables = _interleave(order, read, cycle_length)
            if shuffle:
                tables = _shuffle(tables, data_config.shuffle_buffer_size, rng)
            for table in _rebatch(tables, group, batch_size if drop_remainder else 1):
                yield _raw_element(table, fields, skip_bad)
        except _DataError as e:
            empty = pa.table({f.input_name: pa.array([], _arrow_type(f)) for f in fields})
            yield _raw_element(empty, fields, skip_bad, error=str(e))

    spec = {f.input_name: _raw_spec(f) for f in fields}
    spec[_ERROR] = tf.TensorSpec([], tf.string)
    if skip_bad:
        spec[_BAD] = tf.TensorSpec([None], tf.bool)

    def decode(raw):  # a group: raw buffers → columns (lists ragged)
        ok = tf.debugging.Assert(tf.equal(raw[_ERROR], ""), [raw[_ERROR]])
        with tf.control_dependencies([ok]):
            group = {f.input_name: _decode(raw[f.input_name], f) for f in fields}
            if skip_bad:
                group[_BAD] = tf.identity(raw[_BAD])
            return group

    def split(group):  # a group → its batches
        rows = _num_rows(group[fields[0].input_name])
        return tf.data.Dataset.range(0, rows, batch_size).map(
            as_written(lambda i: {k: v[i : i + batch_size] for k, v in group.items()})
        )

    def finish(batch):  # bad rows dropped and counted (SKIP); lists padded
        if skip_bad:
            keep = tf.logical_not(batch.pop(_BAD))
            batch = {k: _boolean_mask(v, keep) for k, v in batch.items()}
            batch[BAD_ROWS] = tf.reduce_sum(tf.cast(tf.logical_not(keep), tf.int64))
        return {
            k: v.to_tensor(PADDING[v.dtype]) if isinstance(v, tf.RaggedTensor) else v
            for k, v in batch.items()
        }

    ds = tf.data.Dataset.from_generator(generate, output_signature=spec)
    ds = ds.map(as_written(decode), num_parallel_calls=tf.data.AUTOTUNE).flat_map(as_written(split))
    return ds.map(as_written(finish), num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )


def _with_default(field, data_config) -> data_pb2.Field:
    """`field` with the default its nulls read as (its own default_val, or data_config's
    int_default_val / float_default_val: see :func:`field_default`) as its default_val."""
    default = field_default(data_config, field)
    if default is None or field.HasField("default_val"):
        return field
    field = data_pb2.Field(input_name=field.input_name, input_type=field.input_type)
    field.default_val = default
    return field


# ------------------------------------------------------------------------ files → tables


def _metadata(path: str) -> pq.FileMetaData:
    try:
        return pq.read_metadata(path)
    except (OSError, pa.ArrowException) as e:
        raise EasymtlError(f"{path}: cannot read as Parquet: {_one_line(e)}") from None


def _check_file(path: str, fields, skip_bad: bool) -> None:
    """Raises EasymtlError unless `path` has each field as a column of its kind and (as far
    as its statistics tell) no nulls in numeric columns without default_val."""
    metadata = _metadata(path)
    schema = metadata.schema.to_arrow_schema()
    leaves = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    for field in fields:
        name = field.input_name
        found = schema.get_all_field_indices(name)
        if len(found) != 1:
            what = "no column" if not found else "more than one column"
            raise EasymtlError(f"{path}: has {what} {name!r} (data_config.input_fields)")
        arrow_type = schema.field(found[0]).type
        kind = field_type(arrow_type)
        wanted = data_pb2.FieldType.Name(field.input_type)
        if kind is None or kind.startswith("ARRAY_") != wanted.startswith("ARRAY_"):
            raise EasymtlError(
                f"{path}: column {name!r} has type {arrow_type}, which cannot be read as "
                f"input_type {wanted}" + (f"; expected {kind}" if kind else "")
            )
        if skip_bad or wanted.endswith("STRING") or field.HasField("default_val"):
            continue
        if name in leaves and (nulls := _null_count(metadata, leaves[name])):
            raise EasymtlError(f"{path}: column {name!r}: {nulls} null values and {_NO_DEFAULT}")


def _null_count(metadata: pq.FileMetaData, column: int) -> int:
    """Nulls in a column, as its row groups' statistics say (0 where they do not)."""
    count = 0
    for i in range(metadata.num_row_groups):
        stats = metadata.row_group(i).column(column).statistics
        if stats is not None and stats.has_null_count:
            count += stats.null_count
    return count


_NO_DEFAULT = (
    "no default_val (set default_val in data_config.input_fields, or data_config."
    "int_default_val / float_default_val for every numeric field, fill the nulls, or set "
    "data_config.bad_row_policy: SKIP to skip such rows)"
)


def _read_file(path: str, fields, skip_bad: bool) -> Iterator[pa.Table]:
    """`fields` of the Parquet file at `path`, a record batch at a time, conformed."""
    row = 0
    try:
        with pq.ParquetFile(path) as file:
            names = [f.input_name for f in fields]
            for batch in file.iter_batches(batch_size=RECORD_ROWS, columns=names):
                yield _conform(batch, fields, skip_bad, path, row)
                row += batch.num_rows
    except (OSError, pa.ArrowException) as e:
        raise _DataError(f"{path}: cannot read from row {row} on: {_one_line(e)}") from None


def _conform(batch: pa.RecordBatch, fields, skip_bad: bool, path: str, row: int) -> pa.Table:
    """`batch`'s columns cast to their fields' types, with nulls filled (see
    :func:`_fill_nulls`); a null number without default_val is an error, or with
    `skip_bad` marks its row bad in an extra column. `row`: the first row's number."""
    arrays, bad = [], np.zeros([batch.num_rows], bool)
    for field in fields:
        array = batch.column(field.input_name)
        # Unquoted: tf.debugging.Assert, which reports this error, escapes quotes.
        column = f"column {field.input_name}"
        try:
            array = array.cast(_arrow_type(field, array.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            kind = data_pb2.FieldType.Name(field.input_type)
            raise _DataError(
                f"{path}: rows {row}-{row + batch.num_rows - 1}: {column}: cannot read "
                f"{array.type} as {kind}: {_one_line(e)}"
            ) from None
        if is_array(field):
            array, nulls = _fill_list_nulls(array, field)
        else:
            array, nulls = _fill_nulls(array, field)
        if nulls is not None:
            if not skip_bad:
                first = row + int(nulls.argmax())
                raise _DataError(f"{path}: row {first}: {column}: null value and {_NO_DEFAULT}")
            bad |= nulls
        arrays.append(array)
    names = [f.input_name for f in fields]
    if skip_bad:
        arrays, names = [*arrays, pa.array(bad)], [*names, _BAD]
    return pa.Table.from_arrays(arrays, names=names)


def _fill_nulls(array: pa.Array, field) -> tuple[pa.Array, np.ndarray | None]:
    """`array` with nulls filled: "" in strings, default_val in numbers; in numbers without
    default_val, 0, and the rows of those nulls returned as a mask (else None)."""
    if not array.null_count:
        return array, None
    if _is_text(array.type):
        return pc.fill_null(array, pa.scalar("", array.type)), None
    if field.HasField("default_val"):
        value = float(field.default_val)
        value = int(value) if pa.types.is_integer(array.type) else value
        return pc.fill_null(array, pa.scalar(value, array.type)), None
    nulls = pc.is_null(array).to_numpy(zero_copy_only=False)
    return pc.fill_null(array, pa.scalar(0, array.type)), nulls


def _fill_list_nulls(array: pa.ListArray, field) -> tuple[pa.ListArray, np.ndarray | None]:
    """`array` with null lists empty and null values filled as :func:`_fill_nulls` does."""
    if array.null_count:
        array = pc.fill_null(array, pa.scalar([], array.type))
    offsets = array.offsets.to_numpy()
    values = array.values.slice(offsets[0], offsets[-1] - offsets[0])
    offsets = offsets - offsets[0]
    values, nulls = _fill_nulls(values, field)
    if nulls is not None:
        rows = np.zeros([len(array)], bool)
        rows[np.searchsorted(offsets, np.flatnonzero(nulls), side="right") - 1] = True
        nulls = rows
    return pa.ListArray.from_arrays(pa.array(offsets), values), nulls


def _interleave(files: list[str], read: Callable, cycle_length: int) -> Iterator[pa.Table]:
    """The tables of ``read(path)`` for each of `files`, `cycle_length` files at a time,
    taken in turn, one table from each; each open file's next table is read ahead in a
    thread (pyarrow releases the GIL), so files are read in parallel."""
    waiting = collections.deque(files)
    with ThreadPoolExecutor(cycle_length) as pool:

        def open_next():
            tables = read(waiting.popleft())
            return [tables, pool.submit(next, tables, None)]

        active = [open_next() for _ in range(min(cycle_length, len(waiting)))]
        i = 0
        while active:
            tables, pending = active[i]
            table = pending.result()
            if table is None:
                if waiting:
                    active[i] = open_next()
                else:
                    del active[i]
                    i = i % len(active) if active else 0
                continue
            active[i][1] = pool.submit(next, tables, None)
            yield table
            i = (i + 1) % len(active)


def _shuffle(tables: Iterator[pa.Table], buffer_size: int, rng) -> Iterator[pa.Table]:
    """The rows of `tables` in random order: they fill a buffer of `buffer_size` rows;
    once full it is permuted and all but half of it emitted, the half kept mixing with
    the rows that come next (tf.data's shuffle, a permutation at a time)."""
    buffer = None
    for table in tables:
        buffer = table if buffer is None else pa.concat_tables([buffer, table])
        if buffer.num_rows >= buffer_size:
            buffer = buffer.take(rng.permutation(buffer.num_rows))
            emit = buffer.num_rows - buffer_size // 2
            yield buffer.slice(0, emit)
            buffer = buffer.slice(emit)
    if buffer is not None and buffer.num_rows:
        yield buffer.take(rng.permutation(buffer.num_rows))


def _rebatch(tables: Iterator[pa.Table], size: int, multiple: int) -> Iterator[pa.Table]:
    """The rows of `tables` in tables of `size` rows, and the rest (cut down to a multiple
    of `multiple` rows)."""
    rest = None
    for table in tables:
        if rest is not None:
            table = pa.concat_tables([rest, table])
        end = table.num_rows - table.num_rows % size
        for start in range(0, end, size):
            yield table.slice(start, size)
        rest = table.slice(end)
    if rest is not None and rest.num_rows >= multiple:
        yield rest.slice(0, rest.num_rows - rest.num_rows % multiple)


# ----------------------------------------------------------------------- tables → tensors


def _raw_element(table: pa.Table, fields, skip_bad: bool, error: str = "") -> dict:
    """The Arrow buffers of `table`'s columns, as numpy arrays and bytes for from_generator:
    numbers as they are, strings as (data, offsets), lists as (values, row splits)."""
    element = {f.input_name: _raw(table.column(f.input_name).combine_chunks()) for f in fields}
    element[_ERROR] = error.encode()
    if skip_bad:
        bad = table.column(_BAD).combine_chunks() if table.num_rows else pa.array([], pa.bool_())
        element[_BAD] = _raw(bad)
    return element


def _raw(array: pa.Array):
    if pa.types.is_list(array.type):
        splits = array.offsets.to_numpy()
        values = array.values.slice(splits[0], splits[-1] - splits[0])
        return _raw(values), splits - splits[0]
    if _is_text(array.type):
        if not len(array):
            return b"", np.zeros([1], np.int32)
        _, offsets, data = array.buffers()
        offsets = np.frombuffer(offsets, np.int32, len(array) + 1, array.offset * 4)
        start, end = int(offsets[0]), int(offsets[-1])
        return data.slice(start, end - start).to_pybytes(), offsets - start
    return array.to_numpy(zero_copy_only=False)


def _raw_spec(field):
    dtype = field_dtype(field)
    spec = tf.TensorSpec([None], dtype)
    if dtype == tf.string:
        spec = (tf.TensorSpec([], tf.string), tf.TensorSpec([None], tf.int32))
    return (spec, tf.TensorSpec([None], tf.int32)) if is_array(field) else spec


def _decode(raw, field) -> tf.Tensor | tf.RaggedTensor:
    dtype = field_dtype(field)
    values, splits = raw if is_array(field) else (raw, None)
    if dtype == tf.string:
        data, offsets = values
        values = tf.strings.substr(data, offsets[:-1], offsets[1:] - offsets[:-1])
    else:
        values = tf.identity(values)
    if splits is None:
        return values
    return tf.RaggedTensor.from_row_splits(values, splits, validate=False)


def _num_rows(column) -> tf.Tensor:
    if isinstance(column, tf.RaggedTensor):
        return column.nrows(out_type=tf.int64)
    return tf.shape(column, out_type=tf.int64)[0]


def _boolean_mask(column, mask):
    if isinstance(column, tf.RaggedTensor):
        return tf.ragged.boolean_mask(column, mask)
    return tf.boolean_mask(column, mask)


# ------------------------------------------------------------------------------- helpers


def _arrow_type(field, source: pa.DataType | None = None) -> pa.DataType:
    """The Arrow type a field's column is cast to; binary stays binary (no UTF-8 check)."""
    kind = data_pb2.FieldType.Name(field.input_type)
    target = _ARROW[kind.removeprefix("ARRAY_")]
    while source is not None and hasattr(source, "value_type"):
        source = source.value_type
    if target == pa.string() and source is not None and _is_binary(source):
        target = pa.binary()
    return pa.list_(target) if is_array(field) else target


def _is_text(t: pa.DataType) -> bool:
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or getattr(pa.types, "is_string_view", lambda _: False)(t)
        or _is_binary(t)
    )


def _is_binary(t: pa.DataType) -> bool:
    return (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or getattr(pa.types, "is_binary_view", lambda _: False)(t)
    )


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
