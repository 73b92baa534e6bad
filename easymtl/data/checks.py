"""Bad input rows: found by file, line and column; stopped on or skipped and counted.

A row is bad when it does not parse (a wrong number of columns, a non-numeric value in a
numeric field, an empty numeric field without a default, quotes out of place: see
:mod:`easymtl.data.csv_lines`) or when a value is out of its domain (a label its task
cannot learn from, NaN or Inf in a float feature).

The reader finds parse errors (with ``bad_row_policy: SKIP`` it drops such rows itself);
:func:`with_checks` adds the value checks to a dataset; :class:`BadRows` iterates it and
either stops at the first bad row, naming where it is, or counts what was skipped (and
stops once more than ``data_config.max_bad_row_fraction`` of the rows are). Finding the
place of a bad row rereads its file in Python, so the fast path costs nothing.
:func:`check_files` checks each input file before reading (empty; a CSV header).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import tensorflow as tf

from easymtl.data.csv_lines import (
    LineError,
    cells_pattern,
    delimiter_count_pattern,
    header_problem,
    line_pattern,
    line_problem,
    split_line,
    unclosed_pattern,
)
from easymtl.errors import EasymtlError
from easymtl.protos import data_pb2

log = logging.getLogger("easymtl")

# Key of each batch: the number of rows dropped as bad (SKIP) or found bad (STOP).
BAD_ROWS = "__bad_rows__"

SKIP = data_pb2.DataConfig.SKIP
# How a bad-row message tells the user to skip such rows; commands with a flag of their
# own for it (predict's --skip_bad_rows) say that instead.
SKIP_SETTING = "set data_config.bad_row_policy: SKIP"
# Rows read before the share of bad ones is first checked against
# data_config.max_bad_row_fraction (then after every batch, and at the end of a pass).
CHECK_AFTER_ROWS = 10_000


@dataclass
class Check:
    """One rule on decoded values.

    Args:
        column: The input field it reads.
        bad: ``fn(batch) -> [batch] bool``, True where a row breaks the rule.
        what: Says what is wrong with a value, e.g. "is outside {0, 1} of tower 'ctr'".
    """

    column: str
    bad: Callable[[dict], tf.Tensor]
    what: str


@dataclass
class RowChecks:
    """The value rules of an input: labels in their task's domain, finite floats."""

    checks: list[Check] = field(default_factory=list)

    @classmethod
    def build(cls, tasks, float_features: list[str], extra: list[Check] = ()) -> RowChecks:
        """Rules for the `tasks`' labels and for float input fields read by features,
        then the `extra` rules (e.g. the features' own, such as aligned sequences)."""
        checks = [
            Check(
                t.label_name,
                lambda b, t=t: tf.logical_not(t.valid_labels(b)),
                f"is outside {t.label_domain}, the labels of tower {t.name!r}",
            )
            for t in tasks
        ]
        checks += [
            Check(name, lambda b, n=name: tf.logical_not(tf.math.is_finite(b[n])), "is NaN or Inf")
            for name in float_features
        ]
        return cls(checks + list(extra))

    def bad(self, batch: dict) -> tf.Tensor:
        """[batch] bool: rows that break some rule."""
        size = tf.shape(next(iter(batch.values())))[0]
        mask = tf.zeros([size], tf.bool)
        for check in self.checks:
            bad = check.bad(batch)
            if bad.shape.rank > 1:  # list columns: any element
                bad = tf.reduce_any(bad, axis=list(range(1, bad.shape.rank)))
            mask = tf.logical_or(mask, bad)
        return mask


def as_written(fn: Callable) -> Callable:
    """`fn` for ``Dataset.map``, traced as written: autograph's rewriting of its source
    costs a second or more per pipeline, and no map function here branches on a tensor."""
    return tf.autograph.experimental.do_not_convert(fn)


def with_checks(dataset: tf.data.Dataset, checks: RowChecks, policy: int) -> tf.data.Dataset:
    """Adds :data:`BAD_ROWS` to each batch: under SKIP the rows breaking `checks` are
    dropped and counted (with those the reader dropped); under STOP they are counted."""

    def apply(batch):
        batch = dict(batch)
        dropped = batch.pop(BAD_ROWS, tf.constant(0, tf.int64))
        bad = checks.bad(batch)
        count = tf.reduce_sum(tf.cast(bad, tf.int64))
        if policy == SKIP:
            keep = tf.logical_not(bad)
            batch = {k: tf.boolean_mask(v, keep) for k, v in batch.items()}
        batch[BAD_ROWS] = dropped + count
        return batch

    return dataset.map(as_written(apply), num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )


class BadRows:
    """Iterates the batches of one input, stopping at or counting its bad rows.

    Args:
        data_config: The DataConfig message.
        files: The input files.
        columns: The fields the dataset decodes.
        checks: The value rules the dataset applies (see :func:`with_checks`), or None.
        source: Names the input in messages, e.g. "train_input_path".
        rebuild: ``fn(files) -> dataset`` reading `files` in order, unshuffled, with the
            checks counted (not dropped): used to find a bad row's place.
    """

    def __init__(self, data_config, files, columns, checks, source: str, rebuild: Callable):
        self.data_config = data_config
        self.files = files
        self.columns = columns
        self.checks = checks
        self.source = source
        self.rebuild = rebuild
        self.skipped = 0
        # Rows read (kept and skipped): the share of bad rows is of these.
        self.rows = 0

    def __call__(self, dataset: tf.data.Dataset) -> Iterator[dict]:
        iterator = iter(dataset)
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                break
            except tf.errors.InvalidArgumentError as e:
                raise self._parse_error(e) from None
            count = 0
            if BAD_ROWS in batch:
                count = int(batch[BAD_ROWS])
                if count and self.data_config.bad_row_policy != SKIP:
                    raise self._value_error()
                self.skipped += count
            self.rows += count + _num_rows(batch)
            if self.rows >= CHECK_AFTER_ROWS:
                self._check_limit()
            yield batch
        self._check_limit()

    def _check_limit(self) -> None:
        """Stops when more than data_config.max_bad_row_fraction of the rows read are bad."""
        limit = self.data_config.max_bad_row_fraction
        if not self.skipped or self.skipped <= limit * self.rows:
            return
        first = self._first_bad_row()
        raise EasymtlError(
            f"{self.source}: {self.skipped} of the {self.rows} rows read are bad "
            f"({self.skipped / self.rows:.1%}), more than data_config.max_bad_row_fraction "
            f"{limit:g}" + (f"; the first: {first}" if first else "") + "; fix the input (or, "
            "to go on with fewer rows, raise max_bad_row_fraction)"
        )

    def _first_bad_row(self) -> str | None:
        """Where the first row that does not parse is, and why (CSV), if it can be found."""
        for path in self.files:
            found = _first_problem(self.data_config, path, self.columns)
            if found:
                return found[0]
        return None

    def _parse_error(self, error) -> EasymtlError:
        """The place of the first row that stops the reader (of any file), else `error`.
        Under SKIP only a row it cannot skip stops it (a quoted cell not closed on its
        line, a number out of its type's range)."""
        skip = self.data_config.bad_row_policy == SKIP
        for path in self.files:
            found = _first_problem(self.data_config, path, self.columns, fatal_only=skip)
            if found:
                where, problem = found
                hint = "" if problem.fatal else problem.hint or _SKIP_HINT
                return EasymtlError(f"{self.source}: {where}{hint}")
        message = " ".join(error.message.split())
        # A reader's own check (tf.debugging.Assert) carries its message in brackets.
        asserted = re.search(r"assertion failed: \[(.*?)\]", message)
        if asserted:  # its quotes come escaped
            return EasymtlError(f"{self.source}: {asserted.group(1)}".replace("\\'", "'"))
        return EasymtlError(f"{self.source}: bad input data: {message}")

    def _value_error(self) -> EasymtlError:
        """The place of the first row whose values break a check."""
        for path in self.files:
            start = 1 + bool(self.data_config.with_header) if _is_csv(self.data_config) else 0
            row = 0
            for batch in self.rebuild([path]):
                bad = self.checks.bad(batch).numpy()
                if bad.any():
                    i = int(bad.argmax())
                    for check in self.checks.checks:
                        if check.bad(batch).numpy().reshape(len(bad), -1).any(axis=1)[i]:
                            value = _text(batch[check.column][i].numpy())
                            where = f"line {start + row + i}" if start else f"row {row + i}"
                            return EasymtlError(
                                f"{self.source}: {path}: {where}: column {check.column!r}: "
                                f"{value} {check.what}{_SKIP_HINT}"
                            )
                row += len(bad)
        return EasymtlError(f"{self.source}: a row breaks a data check{_SKIP_HINT}")


_SKIP_HINT = " (fix the row, or set data_config.bad_row_policy: SKIP to skip bad rows)"
# A file's first row with another number of columns: more likely a config mistake.
_FIRST_ROW_HINT = (
    " (check data_config.input_fields and data_config.delimiter against the file: its first "
    "row does not fit them)"
)


def _num_rows(batch: dict) -> int:
    """Rows of a batch (of its first column)."""
    for key, value in batch.items():
        if key != BAD_ROWS:
            return int(value.shape[0])
    return 0


def no_rows_trained(skipped: int) -> EasymtlError:
    """The error of a training run that ran no step: nothing is trained, so nothing may
    be saved or exported."""
    why = f"every row read was bad ({skipped} skipped)" if skipped else "it yielded no batch"
    return EasymtlError(
        f"train_input_path: no training step was run: {why}; nothing is saved or exported "
        "(check train_input_path, and data_config.batch_size with drop_remainder)"
    )


def no_rows_evaluated(skipped: int) -> EasymtlError:
    """The error of an evaluation of no row: it has no results to record or export by."""
    why = f"every row read was bad ({skipped} skipped)" if skipped else "it has no rows"
    return EasymtlError(
        f"eval_input_path: no row was evaluated: {why}; no result is written, nothing exported"
    )


def _text(value) -> str:
    if isinstance(value, bytes):
        return repr(value.decode("utf-8", "replace"))
    if hasattr(value, "tolist"):
        value = value.tolist()
    return repr(value) if isinstance(value, list) else f"{value:g}"


def _is_csv(data_config) -> bool:
    return data_config.dataset_type == data_pb2.CsvDataset


def check_files(files: list[str], data_config, source: str) -> list[str]:
    """`files` without empty ones: an empty file stops (STOP) or is skipped with a warning.
    A CSV file's first line is checked too: with ``with_header``, its header against
    input_fields (see :func:`~easymtl.data.csv_lines.header_problem`); without, that it is
    neither the column names nor starts with a byte order mark.

    Raises:
        EasymtlError: an empty file (STOP), every file empty, or a first line as above.
    """
    kept = []
    for path in files:
        stat = tf.io.gfile.stat(path)
        if stat.length > 0:
            kept.append(path)
            check_first_line(path, data_config, source, stat)
        elif data_config.bad_row_policy == SKIP:
            log.warning("%s: %s is empty; skipped", source, path)
        else:
            raise EasymtlError(
                f"{source}: {path}: file is empty (remove it from the input, or set "
                "data_config.bad_row_policy: SKIP to skip empty files)"
            )
    if not kept:
        raise EasymtlError(f"{source}: every input file is empty")
    return kept


def check_first_line(path: str, data_config, source: str, stat=None) -> None:
    """For a CSV file: with ``with_header``, its header against input_fields; without,
    that its first line is neither the column names nor starts with a byte order mark.

    Raises:
        EasymtlError: naming `source`, the file and what differs.
    """
    if not _is_csv(data_config):
        return
    stat = stat or tf.io.gfile.stat(path)
    if not stat.length:
        return
    problem = _first_line_problem(
        path,
        stat.length,
        stat.mtime_nsec,
        data_config.delimiter,
        data_config.with_header,
        tuple(f.input_name for f in data_config.input_fields),
    )
    if problem:
        raise EasymtlError(f"{source}: {path}: {problem}")


_BOM = "\ufeff"


@functools.lru_cache(maxsize=4096)
def _first_line_problem(path, length, mtime, delimiter, with_header, names) -> str | None:
    """What is wrong with the first line of a CSV file (cached while the file is the
    same): see :func:`check_files`."""
    with _open_lines(path) as lines:
        line = next(lines, "")
    if with_header:
        try:
            header = split_line(line.removeprefix(_BOM), delimiter)
        except LineError as e:
            return f"line 1 (the header, data_config.with_header): {e.what}"
        config = data_pb2.DataConfig(input_fields=[data_pb2.Field(input_name=n) for n in names])
        return header_problem(header, config)
    if line.startswith(_BOM):
        return (
            "line 1: starts with a byte order mark (U+FEFF, as Excel writes UTF-8 CSV), "
            "which would be read as part of its first cell; save the file without it"
        )
    if _is_header(line, delimiter, names):
        return "line 1: is a header line (the column names); set data_config.with_header: true"
    return None


def _is_header(line: str, delimiter: str, names) -> bool:
    try:
        return [c.strip() for c in split_line(line, delimiter)] == list(names)
    except LineError:
        return False


# ------------------------------------------------------------------------------ CSV


@contextlib.contextmanager
def _open_lines(path: str) -> Iterator[Iterator[str]]:
    """The lines of a (gzip-compressed, where the name ends in .gz) text file as
    TensorFlow's TextLineDataset reads them: split at newlines, a carriage return before
    one dropped; bytes that are not UTF-8 replaced."""
    with tf.io.gfile.GFile(path, "rb") as raw:
        if path.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield (_text_line(line) for line in unzipped)
        else:
            yield (_text_line(line) for line in raw)


def _text_line(line: bytes) -> str:
    line = line.removesuffix(b"\n").removesuffix(b"\r")
    return line.decode("utf-8", "replace")


def find_parse_error(data_config, path: str, columns) -> str | None:
    """``"<path>: line N: <what is wrong>"`` for the first CSV line of `path` that the
    reader cannot decode, or None (also for non-CSV inputs)."""
    found = _first_problem(data_config, path, columns)
    return found[0] if found else None


def _first_problem(data_config, path, columns, fatal_only=False):
    """(``"<path>: line N: <what>"``, the LineError) of the first CSV line of `path`
    that the reader refuses (with `fatal_only`, that it cannot skip), or None."""
    if not _is_csv(data_config):
        return None
    names = [f.input_name for f in data_config.input_fields]
    first = 2 if data_config.with_header else 1
    space = re.compile(re.escape(data_config.delimiter) + " +")
    with _open_lines(path) as lines:
        for number, line in enumerate(lines, start=1):
            if number < first:
                continue
            if data_config.skip_initial_space:
                line = space.sub(data_config.delimiter, line)
            problem = line_problem(line, data_config, columns)
            if problem is None or (fatal_only and not problem.fatal):
                continue
            what = problem.what
            if number == 1 and _is_header(line, data_config.delimiter, names):
                what = "is a header line (the column names); set data_config.with_header: true"
            elif number == first and what.startswith("expected "):
                problem.hint = _FIRST_ROW_HINT
            return f"{path}: line {number}: {what}", problem
    return None


# Fields of the widest CSV whose cells check_cell_counts counts (RE2 repeats at most
# 1000 times); wider files are decoded whole, which counts them too.
MAX_COUNTED_FIELDS = 1000


def check_cell_counts(lines: tf.Tensor, data_config) -> tf.Operation:
    """An assertion that no CSV line has more cells than ``data_config.input_fields``
    (decode_csv with select_cols drops the cells after the last one unseen).

    One quote-blind match counts the delimiters of each line; only lines with more
    (a cell holding the delimiter in quotes, or a cell too many) are split properly,
    by :func:`~easymtl.data.csv_lines.cells_pattern`. :class:`BadRows` names the line
    that fails it.
    """
    n = len(data_config.input_fields)
    ok = tf.strings.regex_full_match(lines, delimiter_count_pattern(data_config.delimiter, n))
    # Lines holding bytes that are not UTF-8 fail too (RE2 matches UTF-8 text only):
    # they are matched again with those bytes replaced.
    retry = tf.strings.unicode_transcode(
        tf.boolean_mask(lines, tf.logical_not(ok)), "UTF-8", "UTF-8", errors="replace"
    )
    exact = tf.strings.regex_full_match(retry, cells_pattern(data_config.delimiter, n))
    return tf.debugging.Assert(
        tf.reduce_all(exact), ["a line has more cells than data_config.input_fields"]
    )


def valid_lines(lines: tf.Tensor, data_config, columns) -> tf.Tensor:
    """[batch] bool: the CSV lines that the reader decodes (see
    :mod:`easymtl.data.csv_lines`), found by one pattern match per batch.

    A line with a quoted cell that is not closed on it (a line break inside quotes) is
    not a row that can be skipped: the lines after it are parts of the same row. An
    assertion stops reading there; :class:`BadRows` names the line.
    """
    pattern = line_pattern(data_config, columns)
    ok = tf.strings.regex_full_match(lines, pattern)
    # What fails is matched again: lines holding bytes that are not UTF-8 (Latin-1 text
    # in a string cell), which RE2 does not match, with those bytes replaced; and
    # whether a quoted cell is left open on its line.
    failed = tf.where(tf.logical_not(ok))
    retry = tf.strings.unicode_transcode(
        tf.gather_nd(lines, failed), "UTF-8", "UTF-8", errors="replace"
    )
    ok = tf.tensor_scatter_nd_update(ok, failed, tf.strings.regex_full_match(retry, pattern))
    unclosed = tf.reduce_any(
        tf.strings.regex_full_match(retry, unclosed_pattern(data_config.delimiter))
    )
    check = tf.debugging.Assert(
        tf.logical_not(unclosed), ["a quoted cell is not closed on its line"]
    )
    with tf.control_dependencies([check]):
        return tf.identity(ok)


def float_fields(data_config, columns) -> list[str]:
    """The FLOAT / DOUBLE (and list of float) fields among `columns`."""
    kinds = {"FLOAT", "DOUBLE", "ARRAY_FLOAT", "ARRAY_DOUBLE"}
    return [
        f.input_name
        for f in data_config.input_fields
        if f.input_name in set(columns) and data_pb2.FieldType.Name(f.input_type) in kinds
    ]


__all__ = [
    "BAD_ROWS",
    "BadRows",
    "Check",
    "RowChecks",
    "MAX_COUNTED_FIELDS",
    "check_cell_counts",
    "check_files",
    "check_first_line",
    "find_parse_error",
    "float_fields",
    "no_rows_evaluated",
    "no_rows_trained",
    "valid_lines",
    "with_checks",
]
