"""How many rows input files hold, found cheaply, for progress and time left.

CSV lines are counted exactly while the files are small (up to :data:`EXACT_BYTES` in
all, a fraction of a second to read); beyond that, and for remote files, the count is
estimated from the file sizes and the mean line length of each file's first MiB. A gzip
file's rows are not known without reading it all: its count is unknown. Parquet files
say their rows in their footers (exact, whatever the size).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

EXACT_BYTES = 256 << 20
_SAMPLE = 1 << 20
_CHUNK = 4 << 20


@dataclass(frozen=True)
class RowCount:
    """The rows of some input files.

    Attributes:
        rows: The number of rows (data rows: a CSV header is not counted).
        exact: Whether counted, or estimated from file sizes.
        files: How many files.
    """

    rows: int
    exact: bool
    files: int

    @property
    def how(self) -> str:
        """How the rows were found, for a log line: ``40,000 rows counted in 1 file``."""
        files = f"{self.files} file" + ("" if self.files == 1 else "s")
        if self.exact:
            return f"{self.rows:,} rows counted in {files}"
        return f"about {self.rows:,} rows, estimated from the sizes of {files}"


def count_rows(files: list[str], data_config) -> RowCount | None:
    """The rows of `files` read as `data_config` says, or None where they cannot be
    known cheaply (gzip CSV, unreadable files)."""
    from easymtl.protos import data_pb2

    if not files:
        return RowCount(0, True, 0)
    try:
        if data_config.dataset_type == data_pb2.ParquetDataset:
            import pyarrow.parquet as pq

            return RowCount(sum(pq.read_metadata(f).num_rows for f in files), True, len(files))
        header = 1 if data_config.with_header else 0
        sizes = [_size(f) for f in files]
        if any(f.endswith(".gz") for f in files):
            return None
        exact = sum(sizes) <= EXACT_BYTES and not any("://" in f for f in files)
        rows = 0
        for path, size in zip(files, sizes):
            lines = _count_lines(path) if exact else _estimate_lines(path, size)
            rows += max(0, lines - header)
        return RowCount(rows, exact, len(files))
    except (OSError, ValueError, ImportError):
        return None


def _size(path: str) -> int:
    if "://" in path:
        import tensorflow as tf

        return tf.io.gfile.stat(path).length
    return os.path.getsize(path)


def _count_lines(path: str) -> int:
    """Lines of a local file: its newlines, plus a last line without one."""
    lines, last = 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def _estimate_lines(path: str, size: int) -> int:
    """Lines of a file of `size` bytes from the mean length of its first lines."""
    if "://" in path:
        import tensorflow as tf

        with tf.io.gfile.GFile(path, "rb") as f:
            sample = f.read(_SAMPLE)
    else:
        with open(path, "rb") as f:
            sample = f.read(_SAMPLE)
    newlines = sample.count(b"\n")
    if not newlines or len(sample) >= size:
        return newlines + (bool(sample) and not sample.endswith(b"\n"))
    return round(size * newlines / len(sample))
