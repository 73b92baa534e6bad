"""Bad input rows: found by file, line and column; stopped on or skipped and counted.

A row is bad when it does not parse (a wrong number of columns, a non-numeric value in a
numeric field, an empty numeric field without ``default_val``) or when a value is out of
its domain (a label its task cannot learn from, NaN or Inf in a float feature).

The reader finds parse errors (with ``bad_row_policy: SKIP`` it drops such rows itself);
:func:`with_checks` adds the value checks to a dataset; :class:`BadRows` iterates it and
either stops at the first bad row, naming where it is, or counts what was skipped. Finding
the place of a bad row rereads its file in Python, so the fast path costs nothing.
"""

from __future__ import annotations

import csv
import gzip
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import tensorflow as tf

from easymtl.errors import EasymtlError
from easymtl.protos import data_pb2

log = logging.getLogger("easymtl")

# Key of each batch: the number of rows dropped as bad (SKIP) or found bad (STOP).
BAD_ROWS = "__bad_rows__"

SKIP = data_pb2.DataConfig.SKIP
# How a bad-row message tells the user to skip such rows; commands with a flag of their
# own for it (predict's --skip_bad_rows) say that instead.
SKIP_SETTING = "set data_config.bad_row_policy: SKIP"


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

    return dataset.map(apply, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


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

    def __call__(self, dataset: tf.data.Dataset) -> Iterator[dict]:
        iterator = iter(dataset)
        while True:
            try:
                batch = next(iterator)
            except StopIteration:
                return
            except tf.errors.InvalidArgumentError as e:
                raise self._parse_error(e) from None
            if BAD_ROWS in batch:
                count = int(batch[BAD_ROWS])
                if count and self.data_config.bad_row_policy != SKIP:
                    raise self._value_error()
                self.skipped += count
            yield batch

    def _parse_error(self, error) -> EasymtlError:
        """The place of the first row that does not parse (of any file), else `error`."""
        for path in self.files:
            found = find_parse_error(self.data_config, path, self.columns)
            if found:
                return EasymtlError(f"{self.source}: {found}{_SKIP_HINT}")
        message = " ".join(error.message.split())
        # A reader's own check (tf.debugging.Assert) carries its message in brackets.
        asserted = re.search(r"assertion failed: \[(.*?)\]", message)
        if asserted:
            return EasymtlError(f"{self.source}: {asserted.group(1)}")
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


def _text(value) -> str:
    if isinstance(value, bytes):
        return repr(value.decode("utf-8", "replace"))
    if hasattr(value, "tolist"):
        value = value.tolist()
    return repr(value) if isinstance(value, list) else f"{value:g}"


def _is_csv(data_config) -> bool:
    return data_config.dataset_type == data_pb2.CsvDataset


def check_files(files: list[str], data_config, source: str) -> list[str]:
    """`files` without empty ones: an empty file stops (STOP) or is skipped with a warning."""
    kept = []
    for path in files:
        if tf.io.gfile.stat(path).length > 0:
            kept.append(path)
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


# ------------------------------------------------------------------------------ CSV


def find_parse_error(data_config, path: str, columns) -> str | None:
    """``"<path>: line N: <what is wrong>"`` for the first CSV line of `path` that the
    reader cannot decode, or None (also for non-CSV inputs)."""
    if not _is_csv(data_config):
        return None
    fields = list(data_config.input_fields)
    names = [f.input_name for f in fields]
    wanted = set(columns)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(
            f, delimiter=data_config.delimiter, skipinitialspace=data_config.skip_initial_space
        )
        for number, cells in enumerate(reader, start=1):
            if number == 1 and data_config.with_header:
                continue
            problem = _line_problem(cells, fields, wanted)
            if problem is None:
                continue
            if number == 1 and [c.strip() for c in cells] == names:
                problem = "is a header line (the column names); set data_config.with_header: true"
            return f"{path}: line {number}: {problem}"
    return None


def _line_problem(cells: list[str], fields, wanted: set[str]) -> str | None:
    if len(cells) != len(fields):
        return f"expected {len(fields)} columns (data_config.input_fields), found {len(cells)}"
    for cell, f in zip(cells, fields):
        if f.input_name not in wanted or f.input_type == data_pb2.STRING:
            continue
        kind = data_pb2.FieldType.Name(f.input_type)
        if cell == "":
            if not f.HasField("default_val"):
                return f"column {f.input_name!r}: empty {kind} value and no default_val"
            continue
        try:
            int(cell) if kind.startswith("INT") else float(cell)
        except ValueError:
            return f"column {f.input_name!r}: {cell!r} is not a valid {kind} value"
    return None


def valid_lines(lines: tf.Tensor, data_config, columns) -> tf.Tensor:
    """[batch] bool: the CSV lines that :func:`find_parse_error` accepts (no quoting)."""
    fields = list(data_config.input_fields)
    wanted = set(columns)
    cells = tf.strings.split(lines, sep=data_config.delimiter)
    ok = tf.equal(cells.row_lengths(), len(fields))
    cells = cells.to_tensor(default_value="", shape=[None, len(fields)])
    for i, f in enumerate(fields):
        if f.input_name not in wanted or f.input_type == data_pb2.STRING:
            continue
        kind = data_pb2.FieldType.Name(f.input_type)
        pattern = _INT if kind.startswith("INT") else _FLOAT
        good = tf.strings.regex_full_match(cells[:, i], pattern)
        if f.HasField("default_val"):
            good = tf.logical_or(good, tf.equal(cells[:, i], ""))
        ok = tf.logical_and(ok, good)
    return ok


_INT = r"[-+]?[0-9]+"
_FLOAT = r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?|(?i)[-+]?(nan|inf|infinity)"


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
    "check_files",
    "find_parse_error",
    "float_fields",
    "valid_lines",
    "with_checks",
]
