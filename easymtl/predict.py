"""python -m easymtl.predict --saved_model_dir D --input_path P --output_path O: scores
input files with an exported SavedModel and writes chosen columns as CSV or Parquet."""

from __future__ import annotations

import csv
import logging
import os
import time
from dataclasses import dataclass

from easymtl import cli

log = logging.getLogger("easymtl")

FORMATS = (".csv", ".parquet")


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser(
        "Score input files with an exported SavedModel; write CSV or Parquet.",
        "easymtl.predict",
        config_required=False,
        shortcuts=False,
    )
    parser.add_argument(
        "--saved_model_dir",
        required=True,
        help="An export, model_dir/export/<timestamp>, or a base directory of numbered "
        "exports, model_dir/export, whose highest number is used (as TensorFlow Serving).",
    )
    parser.add_argument(
        "--input_path",
        required=True,
        help="Input files: a path, globs, or a comma-separated list; read as the config's "
        "data_config says. Default config: the SavedModel's assets/pipeline.config.",
    )
    parser.add_argument(
        "--output_path",
        required=True,
        help="Output file (must not exist); its extension picks the format: "
        + ", ".join(FORMATS)
        + ".",
    )
    parser.add_argument(
        "--reserved_cols",
        default="",
        help="Comma-separated input columns copied to the output first (e.g. user_id,clk).",
    )
    parser.add_argument(
        "--output_cols",
        default="",
        help="Comma-separated model outputs to write. Default: every probs_*, y_* and score "
        "output. An output of shape [batch, k] becomes columns <name>_0 … <name>_<k-1>.",
    )
    parser.add_argument(
        "--batch_size",
        type=int,
        help="Rows per batch. Default: data_config.eval_batch_size, else batch_size.",
    )
    parser.add_argument(
        "--log_every_n_batches",
        type=int,
        default=100,
        help="Log progress (rows, rows/sec) every this many batches.",
    )
    parser.add_argument(
        "--skip_bad_rows",
        action="store_true",
        help="Skip input rows that do not parse or break a data check, "
        "counted in the summary line, instead of stopping at the first one; rows skipped "
        "are not in the output (any number: data_config.max_bad_row_fraction does not "
        "apply).",
    )
    args = parser.parse_args(argv)
    return cli.run(lambda: _predict(args))


@dataclass
class Summary:
    """What a prediction run did."""

    rows: int
    files: int
    seconds: float
    output_path: str
    skipped: int = 0  # bad rows skipped (--skip_bad_rows)

    def __str__(self) -> str:
        speed = self.rows / max(self.seconds, 1e-9)
        files = "file" if self.files == 1 else "files"
        skipped = f", {self.skipped} bad rows skipped" if self.skipped else ""
        return (
            f"predicted {self.rows} rows from {self.files} {files} in {self.seconds:.1f}s "
            f"({speed:.0f} rows/sec{skipped}) -> {self.output_path}"
        )


def newest_version(path: str) -> str:
    """`path`, or, where it is a model's base directory (no saved_model.pb, numbered
    version directories such as model_dir/export's timestamps), its highest-numbered
    version, the one TensorFlow Serving serves. A model_dir/export that holds only
    ``best/`` (``exporter_type: "best"``) stands for model_dir/export/best."""
    if os.path.exists(os.path.join(path, "saved_model.pb")) or not os.path.isdir(path):
        return path
    given, versions = path, _versions(path)
    best = os.path.join(path, "best")
    if not versions and os.path.isdir(best) and _versions(best):
        path, versions = best, _versions(best)
        what = "its best exports' newest version"
    else:
        what = "its newest version"
    if not versions:
        return path
    newest = os.path.join(path, max(versions, key=int))
    log.info("--saved_model_dir %s: using %s, %s", given, what, newest)
    return newest


def _versions(path: str) -> list[str]:
    return [n for n in os.listdir(path) if n.isdigit() and os.path.isdir(os.path.join(path, n))]


def _predict(args) -> None:
    from easymtl.data import expand_paths
    from easymtl.errors import EasymtlError
    from easymtl.protos import data_pb2

    if args.batch_size is not None and args.batch_size <= 0:
        raise EasymtlError(f"--batch_size: must be positive, got {args.batch_size}")
    if args.log_every_n_batches <= 0:
        raise EasymtlError(
            f"--log_every_n_batches: must be positive, got {args.log_every_n_batches}"
        )
    check_output_path(args.output_path)
    files = expand_paths(args.input_path, "--input_path")
    args.saved_model_dir = newest_version(args.saved_model_dir)
    if not os.path.isdir(args.saved_model_dir) or not os.path.exists(
        os.path.join(args.saved_model_dir, "saved_model.pb")
    ):
        raise EasymtlError(
            f"--saved_model_dir {args.saved_model_dir!r}: not a SavedModel directory "
            "(expected saved_model.pb in it, e.g. model_dir/export/<timestamp>, or numbered "
            "version directories, e.g. model_dir/export or model_dir/export/best)"
        )
    config_path = args.config or os.path.join(args.saved_model_dir, "assets", "pipeline.config")
    if not args.config and not os.path.exists(config_path):
        raise EasymtlError(
            f"--saved_model_dir {args.saved_model_dir!r}: has no assets/pipeline.config; "
            "pass --config"
        )
    config = cli.load(args, config_path)
    cli.import_tensorflow()
    from easymtl.data.checks import SKIP_SETTING

    if args.skip_bad_rows:
        # Skipped rows are counted in the summary; the flag asks to skip any number.
        config.data_config.bad_row_policy = data_pb2.DataConfig.SKIP
        config.data_config.max_bad_row_fraction = 1
    try:
        summary = _run_predict(args, config, files, config_path)
    except EasymtlError as e:
        # The data checks name the config field; here the flag is what a user sets.
        if SKIP_SETTING not in str(e):
            raise
        raise EasymtlError(str(e).replace(SKIP_SETTING, "pass --skip_bad_rows")) from None
    print(summary)


def _run_predict(args, config, files, config_path) -> Summary:
    return predict(
        args.saved_model_dir,
        config.data_config,
        files,
        args.output_path,
        reserved_cols=_split(args.reserved_cols),
        output_cols=_split(args.output_cols),
        batch_size=args.batch_size,
        log_every_n_batches=args.log_every_n_batches,
        config_name=args.config or config_path,
    )


def predict(
    saved_model_dir: str,
    data_config,
    files: list[str],
    output_path: str,
    reserved_cols: list[str] = (),
    output_cols: list[str] = (),
    batch_size: int | None = None,
    log_every_n_batches: int = 100,
    config_name: str = "config",
) -> Summary:
    """Scores `files` with the SavedModel's ``serving_default`` and writes `output_path`.

    Rows are read with :func:`easymtl.data.build_dataset` (whatever ``dataset_type`` the
    data config names), one file after another, so the output keeps the input's row order.
    The output holds `reserved_cols` copied from the input, then `output_cols` (default:
    every ``probs_*``, ``y_*`` and ``score`` output), and is written to a temporary file
    beside `output_path` that is renamed into place once complete.

    Args:
        saved_model_dir: The SavedModel.
        data_config: The DataConfig message describing the input files.
        files: Input files.
        output_path: ``.csv`` or ``.parquet`` file to write; must not exist.
        reserved_cols: Input columns to copy through.
        output_cols: Model outputs to write.
        batch_size: Rows per batch (default: eval_batch_size, else batch_size).
        log_every_n_batches: Log progress every this many batches.
        config_name: Names the config in error messages.

    Raises:
        EasymtlError: A bad column name, output path or input data.
    """
    import tensorflow as tf

    from easymtl.data import BadRows, build_dataset, field_dtype
    from easymtl.data.checks import check_first_line
    from easymtl.data.rows import count_rows
    from easymtl.errors import EasymtlError
    from easymtl.progress import Meter, terminal

    check_output_path(output_path)
    if output_path.lower().endswith(".parquet"):
        _require_pyarrow()
    signature = _load_signature(saved_model_dir)
    input_specs = signature.structured_input_signature[1]
    output_specs = signature.structured_outputs

    fields = {f.input_name: f for f in data_config.input_fields}
    for name, spec in input_specs.items():
        if name not in fields:
            raise EasymtlError(
                f"{config_name}: data_config.input_fields: has no {name!r}, "
                "an input of the SavedModel"
            )
        dtype = field_dtype(fields[name])
        if (dtype == tf.string) != (spec.dtype == tf.string):
            raise EasymtlError(
                f"{config_name}: data_config.input_fields[input_name={name}]: type "
                f"{dtype.name}, but the SavedModel takes {spec.dtype.name}"
            )
    for name in reserved_cols:
        if name not in fields:
            raise EasymtlError(
                f"--reserved_cols: {name!r} is not an input field; expected some of "
                + ", ".join(fields)
            )
    if output_cols:
        for name in output_cols:
            if name not in output_specs:
                raise EasymtlError(
                    f"--output_cols: {name!r} is not an output of the SavedModel; expected "
                    "some of " + ", ".join(sorted(output_specs))
                )
    else:
        output_cols = default_output_cols(output_specs)
        if not output_cols:
            raise EasymtlError(
                "--output_cols: the SavedModel has no probs_*, y_* or score output; name "
                "some of " + ", ".join(sorted(output_specs))
            )
    reserved_cols, output_cols = list(reserved_cols), list(output_cols)
    twice = set(reserved_cols) & set(output_cols)
    twice |= {c for c in reserved_cols if reserved_cols.count(c) > 1}
    if twice:
        raise EasymtlError(f"--reserved_cols: names a column twice: {sorted(twice)}")

    batch_size = batch_size or data_config.eval_batch_size or data_config.batch_size
    columns = list(dict.fromkeys([*input_specs, *reserved_cols]))
    for path in files:
        check_first_line(path, data_config, "--input_path")
    start = time.time()
    rows = batches = skipped = 0
    # Progress: a live line on a terminal; the log line every log_every_n_batches.
    meter = Meter("predict", count_rows(files, data_config), terminal(), 0, unit="rows")
    # A file's header needs the output widths: take them from the first batch, or from
    # the static shapes if the input has no rows.
    with _AtomicWriter(output_path) as writer:
        for path in files:
            dataset = build_dataset(data_config, [path], columns, batch_size, training=False)
            bad_rows = BadRows(data_config, [path], columns, None, "--input_path", None)
            for batch in bad_rows(dataset):
                if batch[columns[0]].shape[0] == 0:  # every row skipped as bad
                    continue
                inputs = {
                    name: tf.cast(batch[name], spec.dtype) for name, spec in input_specs.items()
                }
                outputs = signature(**inputs)
                table = {name: batch[name].numpy() for name in reserved_cols}
                for name in output_cols:
                    table.update(_columns(name, outputs[name].numpy()))
                writer.write(table)
                rows += len(next(iter(table.values())))
                batches += 1
                if batches % log_every_n_batches == 0:
                    log.info("%s", meter.text(rows, ", "))
                meter.update(rows)
            skipped += bad_rows.skipped
        meter.close()
        if rows == 0:
            writer.write(_empty_table(data_config, reserved_cols, output_cols, output_specs))
    return Summary(rows, len(files), time.time() - start, output_path, skipped)


def default_output_cols(output_specs) -> list[str]:
    """The outputs written by default: every ``probs_*``, ``y_*`` and ``score``."""
    return sorted(n for n in output_specs if n.startswith(("probs_", "y_")) or n == "score")


def check_output_path(path: str) -> None:
    """Raises EasymtlError unless `path` is a new file with a supported extension."""
    from easymtl.errors import EasymtlError

    if os.path.splitext(path)[1].lower() not in FORMATS:
        raise EasymtlError(
            f"--output_path {path!r}: unsupported extension; expected one of " + ", ".join(FORMATS)
        )
    if os.path.lexists(path):
        raise EasymtlError(f"--output_path {path!r}: exists; remove it or choose a new path")


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _load_signature(saved_model_dir: str):
    import tensorflow as tf

    from easymtl.errors import EasymtlError

    try:
        loaded = tf.saved_model.load(saved_model_dir)
    except (OSError, ValueError, tf.errors.OpError) as e:
        message = " ".join(str(e).split())
        raise EasymtlError(
            f"--saved_model_dir {saved_model_dir!r}: cannot load: {message}"
        ) from None
    if "serving_default" not in loaded.signatures:
        raise EasymtlError(
            f"--saved_model_dir {saved_model_dir!r}: has no serving_default signature "
            f"(has: {', '.join(loaded.signatures) or 'none'})"
        )
    return loaded.signatures["serving_default"]


def _columns(name: str, values) -> dict:
    """One output as columns: [batch] → name; [batch, k, …] → name_0 … name_<k-1>."""
    if values.ndim == 1:
        return {name: values}
    values = values.reshape(len(values), -1)
    return {f"{name}_{i}": values[:, i] for i in range(values.shape[1])}


def _empty_table(data_config, reserved_cols, output_cols, output_specs) -> dict:
    import numpy as np

    from easymtl.data import field_dtype

    fields = {f.input_name: f for f in data_config.input_fields}
    table = {n: np.zeros([0], field_dtype(fields[n]).as_numpy_dtype) for n in reserved_cols}
    for name in output_cols:
        spec = output_specs[name]
        width = [int(np.prod([d or 1 for d in spec.shape[1:]]))] if spec.shape.rank > 1 else []
        table.update(_columns(name, np.zeros([0, *width], spec.dtype.as_numpy_dtype)))
    return table


class _AtomicWriter:
    """Writes column batches to a temporary file beside `path`; renames it into place on
    success and removes it on failure."""

    def __init__(self, path: str):
        self.path = path
        self.format = os.path.splitext(path)[1].lower()
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        self.tmp = os.path.join(parent, f".{os.path.basename(path)}.tmp-{os.getpid()}")
        self._sink = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if self._sink is not None:
                self._sink.close()
        finally:
            if exc_type is None:
                os.replace(self.tmp, self.path)
            elif os.path.exists(self.tmp):
                os.remove(self.tmp)
        return False

    def write(self, table: dict) -> None:
        if self._sink is None:
            sink = _ParquetSink if self.format == ".parquet" else _CsvSink
            self._sink = sink(self.tmp, table)
        self._sink.write(table)


class _CsvSink:
    """CSV with a header line; floats written with enough digits to round-trip."""

    def __init__(self, path: str, table: dict):
        # surrogateescape writes string bytes back exactly, even if not valid UTF-8.
        self._file = open(  # noqa: SIM115 (closed by close())
            path, "w", newline="", encoding="utf-8", errors="surrogateescape"
        )
        self._writer = csv.writer(self._file, lineterminator="\n")
        self._writer.writerow(table)

    def write(self, table: dict) -> None:
        self._writer.writerows(zip(*(_text(v) for v in table.values())))

    def close(self) -> None:
        self._file.close()


def _text(values) -> list[str]:
    """A column's values as CSV text; floats in the shortest form that reads back to the
    same value (of their own precision), so the output is deterministic and exact."""
    kind = values.dtype.kind
    if kind == "f":
        if values.dtype.itemsize == 8:
            return [repr(v) for v in values.tolist()]
        return [str(v) for v in values]
    if kind in "SO":
        return [v.decode("utf-8", "surrogateescape") for v in values.tolist()]
    return [str(v) for v in values.tolist()]


def _require_pyarrow():
    from easymtl.errors import EasymtlError

    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise EasymtlError(
            "--output_path: writing .parquet needs pyarrow (pip install pyarrow)"
        ) from None
    return pyarrow


class _ParquetSink:
    """A Parquet file written a row group per batch."""

    def __init__(self, path: str, table: dict):
        pa = _require_pyarrow()
        import pyarrow.parquet as pq

        self._pa = pa
        self._schema = pa.schema([(n, _arrow_type(pa, v)) for n, v in table.items()])
        self._writer = pq.ParquetWriter(path, self._schema)

    def write(self, table: dict) -> None:
        pa = self._pa
        arrays = [
            pa.array(
                [s.decode("utf-8", "replace") for s in v.tolist()] if v.dtype.kind in "SO" else v,
                type=field.type,
            )
            for v, field in zip(table.values(), self._schema)
        ]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))

    def close(self) -> None:
        self._writer.close()


def _arrow_type(pa, values):
    if values.dtype.kind in "SO":
        return pa.string()
    return pa.from_numpy_dtype(values.dtype)


if __name__ == "__main__":
    raise SystemExit(main())
