"""Runs a TorchEasyRec pipeline config on generated data, as a user moving to easymtl
would: the config unchanged but for its input (paths and ``dataset_type:
ParquetDataset``), data made with the columns the config declares, then load → train →
export → ``saved_model_cli run``.

The config is read here with a small protobuf-text reader of its own, not with
easymtl's schema: the columns of a config that easymtl refuses can still be made, so
the refusal is what a run reports.

Data follows the config: an ``id_feature`` with ``num_buckets`` reads integer ids, one
with ``hash_bucket_size`` string ids (some cells several ids joined by its separator,
``"\\x1d"`` unless it sets another), a ``weighted`` one ``id:weight`` items joined by its
separator, a ``raw_feature`` floats (``value_dim`` of them joined by its separator), a
``sequence_feature``'s sub-features their items joined by ``sequence_delim``; labels are
0/1 (a CVR label only where the CTR label is 1), sample weights positive floats; about
one cell in ten of a feature is null.

Example:
    ```python
    result = run_config("mmoe_taobao.config", "/tmp/work", rows=64)
    assert result.stage == "served", result.error
    ```
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import shutil
import subprocess
import sys

import numpy as np

# --------------------------------------------------------------- protobuf text, generic

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|#[^\n]*|[-+]?[\w.]+|[{}<>\[\]:,;]|\S')


class Node(dict):
    """A message in protobuf text: field name → list of values (scalars or Nodes)."""

    def one(self, name: str, default=None):
        """The first value of `name`, or `default`."""
        values = self.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list:
        return self.get(name, [])


def _unquote(token: str):
    if token[0] in "\"'":
        body = token[1:-1]
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    return token


def parse_text(text: str) -> Node:
    """Parses protobuf text format into nested :class:`Node`s, without a schema
    (strings unquoted and unescaped; numbers and enum names kept as text)."""
    tokens = [t for t in _TOKEN.findall(text) if not t.startswith("#")]
    pos = 0

    def message(end: str | None) -> Node:
        nonlocal pos
        node = Node()
        while pos < len(tokens):
            tok = tokens[pos]
            if tok in (end, "}", ">"):
                pos += 1
                return node
            if tok in (",", ";"):
                pos += 1
                continue
            name = tok
            pos += 1
            if tokens[pos] == ":":
                pos += 1
            if tokens[pos] in ("{", "<"):
                close = "}" if tokens[pos] == "{" else ">"
                pos += 1
                node.setdefault(name, []).append(message(close))
            elif tokens[pos] == "[":
                pos += 1
                while tokens[pos] != "]":
                    if tokens[pos] == ",":
                        pos += 1
                        continue
                    if tokens[pos] in ("{", "<"):
                        close = "}" if tokens[pos] == "{" else ">"
                        pos += 1
                        node.setdefault(name, []).append(message(close))
                    else:
                        node.setdefault(name, []).append(_unquote(tokens[pos]))
                        pos += 1
                pos += 1
            else:
                value = _unquote(tokens[pos])
                pos += 1
                # Adjacent string literals concatenate.
                while pos < len(tokens) and tokens[pos][:1] in "\"'" and tokens[pos]:
                    value += _unquote(tokens[pos])
                    pos += 1
                node.setdefault(name, []).append(value)
        return node

    return message(None)


# --------------------------------------------------------------------- the data columns


@dataclasses.dataclass
class Column:
    """What one input column holds.

    Attributes:
        kind: "int" (ids in [0, size)), "str" (string ids), "float", "label", "weight",
            "weighted" (id:weight items), "floats" (several floats joined), "seq_int",
            "seq_str", "seq_float" (items joined by `delim`), "map" (key:value items),
            "nested_map" (match_feature's pkey^skey:value items),
            "vocab" (values of `vocab`).
        size: Distinct ids (int, str, weighted).
        sep: Separator of multi-value cells.
        delim: Item delimiter of a sequence.
        length: Most items of a sequence; values of "floats".
        value_dim: Values of each item of a "seq_float" (joined by `sep`).
        nulls: Whether some cells are null: not in a number column that another kind of
            feature than an id/raw one also reads (an expression's variable, a lookup
            key): easymtl refuses such nulls, their meaning not agreed (see
            :mod:`easymtl.features.null_cells`).
        vocab: Values of a vocabulary feature.
        boundaries: Where a bucketized raw feature's buckets split.
        group: The sequence a sequence column belongs to (its columns describe the
            same items: their cells hold equally many).
    """

    kind: str
    size: int = 20
    sep: str = "\x1d"
    delim: str = ";"
    length: int = 4
    vocab: tuple = ()
    boundaries: tuple = ()
    group: str = ""
    value_dim: int = 1
    nulls: bool = True

    @property
    def key(self) -> str:
        """What the columns of one sequence share (a column of no sequence: its own)."""
        return self.group or str(id(self))


def _column_name(cfg: Node) -> str:
    expression = cfg.one("expression")
    return expression.split(":", 1)[-1] if expression else cfg.one("feature_name")


def _id_column(cfg: Node) -> Column:
    sep = cfg.one("separator", "\x1d")
    if cfg.one("vocab_list") is not None:
        return Column("vocab", vocab=tuple(cfg.all("vocab_list")))
    if cfg.one("vocab_dict") is not None:
        return Column("vocab", vocab=tuple(e.one("key") for e in cfg.all("vocab_dict")))
    ints = cfg.one("num_buckets") is not None
    size = min(int(cfg.one("num_buckets", 20)), 20)
    if cfg.one("weighted") == "true":
        return Column("weighted", size=size, sep=sep)
    return Column("int" if ints else "str", size=size, sep=sep)


def _raw_column(cfg: Node) -> Column:
    dim = int(cfg.one("value_dim", 1))
    bounds = tuple(float(b) for b in cfg.all("boundaries"))
    if dim > 1:
        return Column("floats", sep=cfg.one("separator", "\x1d"), length=dim, boundaries=bounds)
    return Column("float", boundaries=bounds)


def _sequence_columns(cfg: Node, columns: dict[str, Column]) -> None:
    name = cfg.one("sequence_name")
    delim = cfg.one("sequence_delim", ";")
    length = min(int(cfg.one("sequence_length", 4)), 6)
    for sub in cfg.all("features"):
        for kind, sub_cfg in ((k, v[0]) for k, v in sub.items()):
            column = f"{name}__{_column_name(sub_cfg)}"
            if kind == "id_feature":
                base = _id_column(sub_cfg)
                seq = "seq_int" if base.kind == "int" else "seq_str"
                columns[column] = Column(
                    seq, size=base.size, delim=delim, length=length, group=name
                )
            else:
                columns[column] = Column(
                    "seq_float",
                    sep=sub_cfg.one("separator", "\x1d"),
                    delim=delim,
                    length=length,
                    boundaries=tuple(float(b) for b in sub_cfg.all("boundaries")),
                    group=name,
                    value_dim=int(sub_cfg.one("value_dim", 1)),
                )


def config_columns(config: Node) -> dict[str, Column]:
    """The input columns a parsed TorchEasyRec config reads, by name, with what each
    holds (features first, then labels and sample weights)."""
    columns: dict[str, Column] = {}
    # Columns that a feature other than an id/raw one reads (a number column among them
    # gets no nulls: see Column.nulls).
    shared: set[str] = set()
    for fc in config.all("feature_configs"):
        for kind, values in fc.items():
            cfg = values[0]
            if kind == "sequence_feature":
                _sequence_columns(cfg, columns)
            elif kind in ("id_feature", "sequence_id_feature"):
                column = _id_column(cfg)
                if kind.startswith("sequence"):
                    column = Column(
                        "seq_int" if column.kind == "int" else "seq_str",
                        size=column.size,
                        delim=cfg.one("sequence_delim", ";"),
                        length=min(int(cfg.one("sequence_length", 4)), 6),
                    )
                columns[_column_name(cfg)] = column
            elif kind in ("raw_feature", "sequence_raw_feature"):
                column = _raw_column(cfg)
                if kind.startswith("sequence"):
                    column = Column(
                        "seq_float",
                        delim=cfg.one("sequence_delim", ";"),
                        length=min(int(cfg.one("sequence_length", 4)), 6),
                        boundaries=column.boundaries,
                        value_dim=int(cfg.one("value_dim", 1)),
                    )
                columns[_column_name(cfg)] = column
            elif kind == "lookup_feature":
                columns.setdefault(cfg.one("map").split(":", 1)[-1], Column("map"))
                key = cfg.one("key").split(":", 1)[-1]
                columns.setdefault(key, Column("str", size=5))
                shared.add(key)
            elif kind == "match_feature":
                columns.setdefault(cfg.one("nested_map").split(":", 1)[-1], Column("nested_map"))
                for key in filter(None, (cfg.one("pkey"), cfg.one("skey"))):
                    key = key.split(":", 1)[-1]
                    columns.setdefault(key, Column("str"))
                    shared.add(key)
            else:
                # Any other kind: every "side:name" string it holds is a string column.
                for vals in cfg.values():
                    for v in vals:
                        if isinstance(v, str) and re.fullmatch(r"(user|item|context):\w+", v):
                            columns.setdefault(v.split(":", 1)[1], Column("str"))
                            shared.add(v.split(":", 1)[1])
    for name in shared:
        if columns[name].kind in ("int", "float"):
            columns[name].nulls = False
    data = config.one("data_config", Node())
    for name in data.all("label_fields"):
        if name not in columns:
            columns[name] = Column("label")
    for name in data.all("sample_weight_fields"):
        columns[name] = Column("weight")
    return columns


def _cell(column: Column, rng: np.random.Generator, items: int):
    """One non-null cell of `column` (a sequence's: of `items` items)."""
    kind = column.kind
    if kind == "int":
        return int(rng.integers(column.size))
    if kind == "str":
        n = 1 if rng.random() < 0.9 else 2
        return column.sep.join(f"v{rng.integers(column.size)}" for _ in range(n))
    if kind == "vocab":
        return str(column.vocab[rng.integers(len(column.vocab))])
    if kind == "weighted":
        n = int(rng.integers(1, 4))
        return column.sep.join(
            f"{rng.integers(column.size)}:{rng.uniform(0.1, 1.0):.3f}" for _ in range(n)
        )
    lo, hi = (column.boundaries[0] - 1, column.boundaries[-1] + 1) if column.boundaries else (0, 5)
    if kind in ("float", "floats"):
        values = rng.uniform(lo, hi, column.length if kind == "floats" else 1)
        return column.sep.join(f"{v:.3f}" for v in values) if kind == "floats" else float(values[0])
    if kind == "map":
        return "\x1d".join(f"v{k}:{rng.uniform(0, 3):.2f}" for k in range(int(rng.integers(1, 4))))
    if kind == "nested_map":  # "v0^v1:0.5,v2:1.2|v1^...": keys as "str" columns hold
        values = (int(rng.integers(1, 3)) for _ in range(int(rng.integers(1, 3))))
        return "|".join(
            f"v{p}^" + ",".join(f"v{s}:{rng.uniform(0, 3):.2f}" for s in range(n))
            for p, n in enumerate(values)
        )
    if kind.startswith("seq_"):
        n = items
        if kind == "seq_int":
            items = [str(rng.integers(column.size)) for _ in range(n)]
        elif kind == "seq_str":
            items = [f"v{rng.integers(column.size)}" for _ in range(n)]
        else:
            values = rng.uniform(lo, hi, (n, column.value_dim))
            items = [column.sep.join(f"{v:.3f}" for v in item) for item in values]
        return column.delim.join(items)
    raise ValueError(f"unknown column kind {kind!r}")


def make_table(columns: dict[str, Column], rows: int, seed: int = 0, labels=()):
    """A pyarrow Table of `rows` generated rows of `columns`: the first label a CTR-like
    0/1 (about 30 % ones), every later label 1 only where the first is (about half of
    them); feature cells null about one time in ten, except in the `labels` columns (a
    feature that is also a label field, as PEPNet's domain)."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    arrays = {}
    kept = set(labels)
    labels = [n for n, c in columns.items() if c.kind == "label"]
    first = rng.random(rows) < 0.3
    # A sequence's items per row, shared by its columns (a null cell: -1 items).
    items: dict[str, np.ndarray] = {}
    for column in columns.values():
        if column.kind.startswith("seq_") and column.key not in items:
            n = rng.integers(0, column.length + 1, rows)
            items[column.key] = np.where(rng.random(rows) < 0.1, -1, n)
    for name, column in columns.items():
        if column.kind == "label":
            values = first if name == labels[0] else first & (rng.random(rows) < 0.5)
            arrays[name] = pa.array(values.astype(np.int64))
        elif column.kind == "weight":
            arrays[name] = pa.array(rng.uniform(0.5, 2.0, rows).astype(np.float32))
        elif column.kind.startswith("seq_"):
            cells = [None if n < 0 else _cell(column, rng, int(n)) for n in items[column.key]]
            arrays[name] = pa.array(cells, pa.string())
        else:
            null = rng.random(rows) < (0.1 if column.nulls and name not in kept else 0.0)
            cells = [None if null[i] else _cell(column, rng, 0) for i in range(rows)]
            if column.kind == "int":
                arrays[name] = pa.array(cells, pa.int64())
            elif column.kind == "float":
                arrays[name] = pa.array(cells, pa.float64())
            else:
                arrays[name] = pa.array(cells, pa.string())
    return pa.table(arrays)


# ---------------------------------------------------------------------- the config run


def rewrite_input(text: str, train_path: str, eval_path: str) -> str:
    """`text` with its train/eval input paths replaced and ``dataset_type:
    ParquetDataset``; nothing else changes."""
    text, n = re.subn(
        r'(?m)^(\s*)train_input_path\s*:\s*("[^"]*"|\'[^\']*\')',
        lambda m: f'{m.group(1)}train_input_path: "{train_path}"',
        text,
    )
    if not n:
        text = f'train_input_path: "{train_path}"\n' + text
    text, n = re.subn(
        r'(?m)^(\s*)eval_input_path\s*:\s*("[^"]*"|\'[^\']*\')',
        lambda m: f'{m.group(1)}eval_input_path: "{eval_path}"',
        text,
    )
    if not n:
        text = f'eval_input_path: "{eval_path}"\n' + text
    text, n = re.subn(r"dataset_type\s*:\s*\w+", "dataset_type: ParquetDataset", text)
    if not n:
        text = re.sub(
            r"data_config\s*\{", "data_config {\n  dataset_type: ParquetDataset", text, count=1
        )
    return text


@dataclasses.dataclass
class RunResult:
    """How far a config got.

    Attributes:
        name: The config's name.
        stage: The last stage passed: "none", "loaded", "trained", "served".
        error: The first error line of the stage that failed ("" when served).
        outputs: The served output names.
    """

    name: str
    stage: str = "none"
    error: str = ""
    outputs: tuple = ()


def _first_error(text: str) -> str:
    """The CLI's ``error:`` line, else a traceback's exception line, else the last line."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for line in lines:
        if line.startswith("error:"):
            return line
    raised = [ln for ln in lines if re.match(r"[\w.]+(Error|Exception)\b", ln)]
    shape = [ln for ln in lines if "not compatible with" in ln or "Tensor's shape" in ln]
    return (
        (raised[-1] + (f" ({shape[-1]})" if shape else ""))
        if raised
        else lines[-1]
        if lines
        else ""
    )


def prepare(config_path: str, workdir: str, rows: int = 64, seed: int = 0) -> str:
    """Writes generated train/eval Parquet files for the TorchEasyRec config at
    `config_path` and its input-rewritten copy under `workdir`; returns the copy's path."""
    import pyarrow.parquet as pq

    with open(config_path, encoding="utf-8") as f:
        text = f.read()
    config = parse_text(text)
    columns = config_columns(config)
    labels = set(config.one("data_config", Node()).all("label_fields"))
    os.makedirs(workdir, exist_ok=True)
    paths = {}
    for i, part in enumerate(("train", "eval")):
        paths[part] = os.path.join(workdir, f"{part}.parquet")
        pq.write_table(make_table(columns, rows, seed + i, labels), paths[part])
    out = os.path.join(workdir, os.path.basename(config_path))
    with open(out, "w", encoding="utf-8") as f:
        f.write(rewrite_input(text, paths["train"], paths["eval"]))
    return out


def table_caps(config, max_rows: int) -> dict[str, int]:
    """Override paths (``--path=value`` flags of ``python -m easymtl.train``) capping each
    id feature's table of the PipelineConfig `config` at `max_rows` rows."""
    caps = {}
    for i, fc in enumerate(config.feature_configs):
        kind = fc.WhichOneof("feature")
        proto = getattr(fc, kind)
        caps.update(_caps(proto, f"feature_configs[{i}].{kind}", max_rows))
        if kind == "sequence_feature":
            for j, sub in enumerate(proto.features):
                sub_kind = sub.WhichOneof("feature")
                path = f"feature_configs[{i}].{kind}.features[{j}].{sub_kind}"
                caps.update(_caps(getattr(sub, sub_kind), path, max_rows))
    return caps


# The fields that size a feature's table (a zch or dynamicemb table's within its message).
_TABLE_SIZES = (
    ("num_buckets",),
    ("hash_bucket_size",),
    ("zch", "zch_size"),
    ("dynamicemb", "max_capacity"),
)


def _caps(proto, path: str, max_rows: int) -> dict[str, int]:
    """table_caps' flags of one feature message at `path`."""
    caps = {}
    for fields in _TABLE_SIZES:
        message = proto
        for name in fields[:-1]:
            if name not in message.DESCRIPTOR.fields_by_name or not message.HasField(name):
                break
            message = getattr(message, name)
        else:
            if getattr(message, fields[-1], 0) > max_rows:
                caps[".".join((path, *fields))] = max_rows
    return caps


def serve_inputs(export_dir: str, table, rows: int = 2) -> str:
    """Writes the first `rows` rows of `table`'s columns that the export's
    serving_default takes to an .npz beside it; returns saved_model_cli's --inputs."""
    import tensorflow as tf

    specs = tf.saved_model.load(export_dir).signatures["serving_default"]
    specs = specs.structured_input_signature[1]
    arrays = {}
    for name, spec in specs.items():
        values = table.column(name).to_pylist()[:rows]
        dtype = spec.dtype.as_numpy_dtype
        if spec.dtype == tf.string:
            arrays[name] = np.array([(v or "").encode() for v in values], dtype=bytes)
        elif spec.dtype.is_floating:
            arrays[name] = np.array([np.nan if v is None else v for v in values], dtype=dtype)
        else:
            arrays[name] = np.array([0 if v is None else v for v in values], dtype=dtype)
    path = os.path.join(os.path.dirname(export_dir.rstrip("/")), "serve_inputs.npz")
    np.savez(path, **arrays)
    return ";".join(f"{name}={path}[{name}]" for name in arrays)


def run_config(
    config_path: str,
    workdir: str,
    rows: int = 64,
    extra_flags: tuple = (),
    timeout: int = 900,
    train=None,
    max_table_rows: int = 0,
    serve=None,
) -> RunResult:
    """Loads, trains (one epoch of `rows` generated rows, or as `extra_flags` say),
    exports and serves (``saved_model_cli run``) the TorchEasyRec config at
    `config_path` with only its input rewritten; returns how far it got. The config is
    loaded and trained in processes of their own (a crash stops one config), or, given
    `train` (``easymtl.train.main``), here by it (a test's output capture holds its
    lines); served by ``saved_model_cli run`` in a process of its own, or, given `serve`
    (:func:`easymtl.testing.clean_process.saved_model_cli`), by its code in the tests'
    clean process. With `max_table_rows`, each id feature's table is capped at that many
    rows (by flags).
    """
    import pyarrow.parquet as pq

    result = RunResult(os.path.basename(config_path))
    config = prepare(config_path, workdir, rows)
    if max_table_rows:
        from easymtl.config import parse_config

        with open(config, encoding="utf-8") as f:
            caps = table_caps(parse_config(f.read(), config), max_table_rows)
        extra_flags = (*extra_flags, *(f"--{path}={value}" for path, value in caps.items()))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    model_dir = os.path.join(workdir, "model_dir")
    shutil.rmtree(model_dir, ignore_errors=True)
    if train is not None:
        result.stage, error = _train_here(train, config, model_dir, extra_flags)
    else:
        result.stage, error = _train_in_processes(config, model_dir, extra_flags, env, timeout)
    if error is not None:
        result.error = error
        return result
    exports = sorted(glob.glob(os.path.join(model_dir, "export", "*", "saved_model.pb")))
    if not exports:
        result.error = "no export written"
        return result
    result.stage = "trained"
    export_dir = os.path.dirname(exports[-1])
    inputs = serve_inputs(export_dir, pq.read_table(os.path.join(workdir, "eval.parquet")))
    served = saved_model_cli_run(export_dir, inputs, serve, timeout)
    outputs = tuple(re.findall(r"Result for output key (\w+)", served.stdout))
    if served.returncode or not outputs:
        result.error = _first_error(served.stderr + served.stdout)
        return result
    result.stage = "served"
    result.outputs = outputs
    return result


def saved_model_cli_run(
    export_dir: str, inputs: str, serve=None, timeout: int = 900
) -> subprocess.CompletedProcess:
    """``saved_model_cli run`` of `export_dir`'s serving_default on `inputs` (its --inputs,
    :func:`serve_inputs`): in a process of its own, or by `serve`
    (:func:`easymtl.testing.clean_process.saved_model_cli`)."""
    argv = ["run", "--dir", export_dir, "--tag_set", "serve", "--signature_def",
            "serving_default", "--inputs", inputs]  # fmt: skip
    if serve is not None:
        return serve(*argv, timeout=timeout)
    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [cli or "saved_model_cli", *argv], capture_output=True, text=True, env=env,
        timeout=timeout,
    )  # fmt: skip


def _train_here(
    train_main, config: str, model_dir: str, extra_flags: tuple
) -> tuple[str, str | None]:
    """Loads `config` and trains it with `train_main` (``easymtl.train.main``) in this
    process: (the stage reached, "none" or "loaded"; the first error line, or None)."""
    from easymtl.config import load_config
    from easymtl.errors import EasymtlError

    try:
        load_config(config)
    except EasymtlError as e:
        return "none", str(e).splitlines()[0]
    if train_main(["--config", config, "--model_dir", model_dir, *extra_flags]):
        return "loaded", "easymtl.train failed (its error line is in the captured output)"
    return "loaded", None


def _train_in_processes(
    config: str, model_dir: str, extra_flags: tuple, env: dict, timeout: int
) -> tuple[str, str | None]:
    """Loads and trains `config` in two processes of their own: (the stage reached,
    "none" or "loaded"; the first error line, or None)."""
    check = subprocess.run(
        [sys.executable, "-c", "import sys; from easymtl.config import load_config as l; "
         "from easymtl.errors import EasymtlError as E\ntry: l(sys.argv[1])\n"
         "except E as e: print('error:', e); sys.exit(2)", config],
        capture_output=True, text=True, env=env, timeout=timeout,
    )  # fmt: skip
    if check.returncode:
        return "none", _first_error(check.stdout + check.stderr)
    train = subprocess.run(
        [sys.executable, "-m", "easymtl.train", "--config", config, "--model_dir", model_dir,
         *extra_flags],
        capture_output=True, text=True, env=env, timeout=timeout,
    )  # fmt: skip
    if train.returncode:
        return "loaded", _first_error(train.stderr + train.stdout)
    return "loaded", None
