"""Runs TorchEasyRec's 23 public ranking configs through easymtl with only their input changed.

For each config (examples/, tzrec/benchmark/configs/criteo/, tzrec/tests/configs/; every
public config whose model is a ranker): its input paths and ``dataset_type`` are
rewritten to generated Parquet files, then it is loaded, trained a few steps (``--steps``
steps of batches of at most 64 rows, one eval step: how long it runs, as
``--train_config.num_steps`` would set it), exported, and served with
``saved_model_cli run``. The data: Criteo's columns (``label``,
``int_0..12``, ``cat_0..25``) from scripts/make_criteo_data.py's planted world; any other
config's columns made from its own features (ids below num_buckets, strings for hashed
ids, floats for raw features, sequences of its sequence_feature's items), labels 0/1, no
null cell.

One change beyond the input, where the machine needs it: ``--max_table_rows`` caps each
id feature's ``num_buckets`` / ``hash_bucket_size`` (TorchEasyRec's Criteo configs hold
five tables of 40,000,000 x 16 rows, 33 GB with Adagrad's slots); it is reported on the
config's line. Prints one line per config (the stage reached: none, loaded, trained,
served; the first error) and the counts.

Example:
    python scripts/tzrec_ranking_configs.py --tzrec /path/to/TorchEasyRec \\
        --max_table_rows 100000 [NAME_FILTER ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

# TorchEasyRec's public configs of a ranking model (paths under its repository).
CONFIGS = [
    "examples/deepfm_criteo.config",
    "examples/dlrm_criteo.config",
    "examples/masknet_criteo.config",
    "examples/multi_tower_din_taobao.config",
    "examples/multi_tower_taobao.config",
    "examples/rocket_launching_criteo.config",
    "examples/wukong_criteo.config",
    "tzrec/benchmark/configs/criteo/deepfm.config",
    "tzrec/benchmark/configs/criteo/dlrm.config",
    "tzrec/benchmark/configs/criteo/rocket_launching.config",
    "tzrec/tests/configs/multi_tower_din_fg_dynamicemb_mock.config",
    "tzrec/tests/configs/multi_tower_din_fg_mock.config",
    "tzrec/tests/configs/multi_tower_din_fg_mock_adagrad_init_acc.config",
    "tzrec/tests/configs/multi_tower_din_fg_mock_bf16_emb_fp16.config",
    "tzrec/tests/configs/multi_tower_din_fg_mock_fp16_ga.config",
    "tzrec/tests/configs/multi_tower_din_fg_mock_gradient_clipping.config",
    "tzrec/tests/configs/multi_tower_din_fg_rtp_mock.config",
    "tzrec/tests/configs/multi_tower_din_mock.config",
    "tzrec/tests/configs/multi_tower_din_mock_frozen.config",
    "tzrec/tests/configs/multi_tower_din_zch_fg_mock.config",
    "tzrec/tests/configs/multi_tower_din_zch_fg_mock_nodice.config",
    "tzrec/tests/configs/zch_to_dynamicemb_convert_src.config",
    "tzrec/tests/configs/zch_to_dynamicemb_convert_tgt.config",
]
STAGES = ("none", "loaded", "trained", "served")


def rewrite_input(text: str, train_path: str, eval_path: str) -> str:
    """`text` with its input paths replaced and ``dataset_type: ParquetDataset``."""
    for name, path in (("train_input_path", train_path), ("eval_input_path", eval_path)):
        pattern = rf'(?m)^(\s*){name}\s*:\s*("[^"]*"|\'[^\']*\')'
        text, n = re.subn(pattern, lambda m, p=path, f=name: f'{m.group(1)}{f}: "{p}"', text)
        if not n:
            text = f'{name}: "{path}"\n' + text
    text, n = re.subn(r"dataset_type\s*:\s*\w+", "dataset_type: ParquetDataset", text)
    if not n:
        text = re.sub(
            r"data_config\s*\{", "data_config {\n  dataset_type: ParquetDataset", text, count=1
        )
    return text


def _features(config):
    """(column, kind, proto, sequence delimiter or None) of each feature's input."""
    for fc in config.feature_configs:
        kind = fc.WhichOneof("feature")
        proto = getattr(fc, kind)
        if kind == "sequence_feature":
            for sub in proto.features:
                sub_kind = sub.WhichOneof("feature")
                sub_proto = getattr(sub, sub_kind)
                column = f"{proto.sequence_name}__{_column(sub_proto)}"
                yield column, sub_kind, sub_proto, proto.sequence_delim or ";"
        else:
            delim = getattr(proto, "sequence_delim", None) if kind.startswith("sequence") else None
            yield (
                _column(proto),
                kind,
                proto,
                delim or (";" if kind.startswith("sequence") else None),
            )


def _column(proto) -> str:
    expression = getattr(proto, "expression", "")
    return expression.split(":", 1)[-1] if expression else proto.feature_name


def make_tables(config, rows: int, seed: int = 0):
    """(train, eval) pyarrow Tables with the columns the parsed `config` reads."""
    import pyarrow as pa

    columns = {c for c, *_ in _features(config)}
    if {"int_0", "cat_0"} <= columns:
        from make_criteo_data import NUM_DENSE, NUM_SPARSE, World

        world = World(np.random.default_rng(seed))
        tables = []
        for split in range(2):
            label, dense, index, _ = world.sample(np.random.default_rng(seed + 1 + split), rows)
            ids = np.stack([world.ids[k][index[:, k]] for k in range(NUM_SPARSE)], 1)
            data = {"label": pa.array(label)}
            data.update({f"int_{i}": pa.array(dense[:, i]) for i in range(NUM_DENSE)})
            for i in range(NUM_SPARSE):
                data[f"cat_{i}"] = pa.array(ids[:, i])
            tables.append(pa.table(data))
        return tables
    tables = []
    for split in range(2):
        rng = np.random.default_rng(seed + split)
        data = {}
        # The items of a row's sequence, as many in each of its sub-features' cells.
        lengths = {}
        for column, kind, proto, delim in _features(config):
            sequence = column.split("__")[0] if delim is not None else None
            if sequence is not None and sequence not in lengths:
                lengths[sequence] = rng.integers(1, 6, rows)
            data[column] = _cells(kind, proto, delim, rng, rows, lengths.get(sequence))
        first = rng.random(rows) < 0.3
        for i, label in enumerate(config.data_config.label_fields):
            values = first if i == 0 else first & (rng.random(rows) < 0.5)
            data[label] = pa.array(values.astype(np.int64))
        for name in config.data_config.sample_weight_fields:
            data[name] = pa.array(rng.uniform(0.5, 2.0, rows).astype(np.float32))
        tables.append(pa.table(data))
    return tables


def _cells(kind: str, proto, delim, rng, rows: int, lengths=None):
    import pyarrow as pa

    def one() -> str:
        if "id_feature" in kind or kind == "combo_feature":
            if getattr(proto, "num_buckets", 0):
                return str(rng.integers(min(proto.num_buckets, 50)))
            return f"v{rng.integers(50)}"
        return f"{rng.uniform(0, 10):.3f}"

    if delim is not None:
        return pa.array([delim.join(one() for _ in range(n)) for n in lengths])
    if "id_feature" in kind and getattr(proto, "num_buckets", 0):
        return pa.array(rng.integers(min(proto.num_buckets, 50), size=rows))
    if kind == "raw_feature" and int(getattr(proto, "value_dim", 1) or 1) <= 1:
        return pa.array(rng.uniform(0, 10, rows))
    return pa.array([one() for _ in range(rows)])


def table_caps(config, max_rows: int) -> dict[str, int]:
    """Override paths capping each id feature's table at `max_rows` rows."""
    caps = {}
    for i, fc in enumerate(config.feature_configs):
        kind = fc.WhichOneof("feature")
        proto = getattr(fc, kind)
        for field in ("num_buckets", "hash_bucket_size"):
            if field in proto.DESCRIPTOR.fields_by_name and getattr(proto, field) > max_rows:
                caps[f"feature_configs[{i}].{kind}.{field}"] = max_rows
        if kind == "sequence_feature":
            for j, sub in enumerate(proto.features):
                sub_kind = sub.WhichOneof("feature")
                sub_proto = getattr(sub, sub_kind)
                for field in ("num_buckets", "hash_bucket_size"):
                    if getattr(sub_proto, field, 0) > max_rows:
                        path = f"feature_configs[{i}].{kind}.features[{j}].{sub_kind}.{field}"
                        caps[path] = max_rows
    return caps


@dataclasses.dataclass
class Result:
    """How far a config got: its stage, the first error, the served outputs, and how
    many tables were capped."""

    stage: str = "none"
    error: str = ""
    outputs: tuple = ()
    capped: int = 0


def run_config(
    path: str, workdir: str, rows: int = 256, steps: int = 3, max_table_rows: int = 0
) -> Result:
    """Loads, trains `steps` steps, exports and serves the TorchEasyRec config at `path`
    on generated data, its input (and, with `max_table_rows`, its tables' rows) changed."""
    import pyarrow.parquet as pq

    from easymtl.config import load_config, parse_config
    from easymtl.errors import EasymtlError

    result = Result()
    os.makedirs(workdir, exist_ok=True)
    paths = [os.path.join(workdir, f"{s}.parquet") for s in ("train", "eval")]
    with open(path, encoding="utf-8") as f:
        text = rewrite_input(f.read(), *paths)
    config_path = os.path.join(workdir, os.path.basename(path))
    with open(config_path, "w", encoding="utf-8") as f:
        f.write(text)
    try:
        parsed = parse_config(text, config_path)
        for table, out in zip(make_tables(parsed, rows), paths):
            pq.write_table(table, out)
        caps = table_caps(parsed, max_table_rows) if max_table_rows else {}
        result.capped = len(caps)
        config = load_config(config_path, [("--max_table_rows", caps)] if caps else [])
    except EasymtlError as e:
        result.error = str(e).splitlines()[0]
        return result
    result.stage = "loaded"
    model_dir = os.path.join(workdir, "model_dir")
    shutil.rmtree(model_dir, ignore_errors=True)
    config.model_dir = model_dir
    config.train_config.num_steps = steps
    config.data_config.batch_size = min(config.data_config.batch_size or 64, 64)
    config.eval_config.num_steps = 1
    with open(config_path, "w", encoding="utf-8") as f:
        from google.protobuf import text_format

        f.write(text_format.MessageToString(config))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    train = subprocess.run(
        [sys.executable, "-m", "easymtl.train", "--config", config_path],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    exports = sorted(glob.glob(os.path.join(model_dir, "export", "*", "saved_model.pb")))
    if train.returncode or not exports:
        lines = [ln for ln in (train.stderr + train.stdout).splitlines() if ln.startswith("error")]
        result.error = lines[0] if lines else (train.stderr.strip().splitlines() or ["?"])[-1]
        return result
    result.stage = "trained"
    export_dir = os.path.dirname(exports[-1])
    inputs = _serve_inputs(export_dir, pq.read_table(paths[1]))
    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable)) or "saved_model_cli"
    serve = subprocess.run(
        [cli, "run", "--dir", export_dir, "--tag_set", "serve", "--signature_def",
         "serving_default", "--inputs", inputs],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    outputs = tuple(re.findall(r"Result for output key (\w+)", serve.stdout))
    if serve.returncode or not outputs:
        result.error = (serve.stderr.strip().splitlines() or ["no output"])[-1]
        return result
    result.stage, result.outputs = "served", outputs
    return result


def _serve_inputs(export_dir: str, table, rows: int = 2) -> str:
    """saved_model_cli's --inputs: the first rows of the columns the export takes, in an
    .npz beside it."""
    import tensorflow as tf

    signature = tf.saved_model.load(export_dir).signatures["serving_default"]
    arrays = {}
    for name, spec in signature.structured_input_signature[1].items():
        values = table.column(name).to_pylist()[:rows]
        if spec.dtype == tf.string:
            arrays[name] = np.array([str(v).encode() for v in values], dtype=bytes)
        else:
            arrays[name] = np.array(values, dtype=spec.dtype.as_numpy_dtype)
    path = os.path.join(os.path.dirname(export_dir.rstrip("/")), "serve_inputs.npz")
    np.savez(path, **arrays)
    return ";".join(f"{name}={path}[{name}]" for name in arrays)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tzrec", required=True, help="a TorchEasyRec checkout")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--rows", type=int, default=256, help="generated rows per file")
    parser.add_argument("--steps", type=int, default=3, help="training steps")
    parser.add_argument("--max_table_rows", type=int, default=0, help="0: tables unchanged")
    parser.add_argument("filters", nargs="*", help="run only configs whose path holds one")
    args = parser.parse_args()
    workdir = args.workdir or tempfile.mkdtemp(prefix="tzrec_ranking_")
    counts = dict.fromkeys(STAGES[1:], 0)
    configs = [c for c in CONFIGS if not args.filters or any(f in c for f in args.filters)]
    for rel in configs:
        start = time.time()
        work = os.path.join(workdir, rel.replace("/", "+"))
        r = run_config(
            os.path.join(args.tzrec, rel), work, args.rows, args.steps, args.max_table_rows
        )
        for stage in counts:
            counts[stage] += STAGES.index(r.stage) >= STAGES.index(stage)
        capped = f" [{r.capped} tables capped at {args.max_table_rows} rows]" if r.capped else ""
        what = f"  {r.error}" if r.error else f"  outputs {', '.join(r.outputs)}"
        print(f"{r.stage:7s} {time.time() - start:4.0f}s {rel}{capped}{what}", flush=True)
        shutil.rmtree(work, ignore_errors=True)  # its data, model_dir and export: GBs
    print(
        f"{len(configs)} ranking configs: {counts['loaded']} load, {counts['trained']} train, "
        f"{counts['served']} serve"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
