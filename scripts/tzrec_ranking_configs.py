"""Runs TorchEasyRec's 23 public ranking configs through easymtl with only their input changed.

For each config (examples/, tzrec/benchmark/configs/criteo/, tzrec/tests/configs/; every
public config whose model is a ranker): its input paths and ``dataset_type`` are
rewritten to generated Parquet files, then it is loaded, trained a few steps (``--steps``
steps of batches of at most 64 rows, one eval step: how long it runs, as
``--train_config.num_steps`` would set it), exported, and served with
``saved_model_cli run``. The data: Criteo's columns (``label``,
``int_0..12``, ``cat_0..25``) from scripts/make_criteo_data.py's planted world; any other
config's columns made from its own features by easymtl/testing/tzrec_configs.py (as
scripts/tzrec_configs.py makes them for the multi-task configs: every feature kind, about
one cell in ten null).

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


def make_tables(text: str, rows: int, seed: int = 0):
    """(train, eval) pyarrow Tables with the columns the config `text` reads: Criteo's
    planted world for a Criteo config, else easymtl.testing.tzrec_configs's columns made
    from the config's features."""
    import pyarrow as pa

    from easymtl.testing.tzrec_configs import Node, config_columns, make_table, parse_text

    raw = parse_text(text)
    columns = config_columns(raw)
    if {"int_0", "cat_0"} <= set(columns):
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
    labels = set(raw.one("data_config", Node()).all("label_fields"))
    return [make_table(columns, rows, seed + split, labels) for split in range(2)]


@dataclasses.dataclass
class Result:
    """How far a config got: its stage, the first error, the served outputs, and how
    many tables were capped."""

    stage: str = "none"
    error: str = ""
    outputs: tuple = ()
    capped: int = 0


def run_config(
    path: str,
    workdir: str,
    rows: int = 256,
    steps: int = 3,
    max_table_rows: int = 0,
    cwd: str | None = None,
    train=None,
    serve=None,
) -> Result:
    """Loads, trains `steps` steps, exports and serves the TorchEasyRec config at `path`
    on generated data, its input (and, with `max_table_rows`, its tables' rows) changed.
    Relative paths in the config (a vocab_file) are read from `cwd` (TorchEasyRec's
    repository root for its configs, as its tests run them; None: this process's).
    Trained in a process of its own (a crash stops one config), or, given `train`
    (``easymtl.train.main``), here by it (a test's output capture holds its lines);
    served by ``saved_model_cli run`` in a process of its own, or, given `serve`
    (:func:`easymtl.testing.clean_process.saved_model_cli`), by its code in the tests'
    clean process."""
    import pyarrow.parquet as pq

    from easymtl.config import load_config, parse_config
    from easymtl.errors import EasymtlError
    from easymtl.testing.tzrec_configs import saved_model_cli_run, serve_inputs, table_caps

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
        for table, out in zip(make_tables(text, rows), paths):
            pq.write_table(table, out)
        caps = table_caps(parsed, max_table_rows) if max_table_rows else {}
        result.capped = len(caps)
        here = os.getcwd()
        os.chdir(cwd or here)
        try:
            config = load_config(config_path, [("--max_table_rows", caps)] if caps else [])
        finally:
            os.chdir(here)
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
    if train is not None:
        here = os.getcwd()
        os.chdir(cwd or here)
        try:
            failed = train(["--config", config_path])
        finally:
            os.chdir(here)
        printed = "easymtl.train failed (its error line is in the captured output)"
    else:
        done = subprocess.run(
            [sys.executable, "-m", "easymtl.train", "--config", config_path],
            capture_output=True, text=True, env=env, cwd=cwd,
        )  # fmt: skip
        failed = done.returncode
        lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.startswith("error")]
        printed = lines[0] if lines else (done.stderr.strip().splitlines() or ["?"])[-1]
    exports = sorted(glob.glob(os.path.join(model_dir, "export", "*", "saved_model.pb")))
    if failed or not exports:
        result.error = printed if failed else "no export written"
        return result
    result.stage = "trained"
    export_dir = os.path.dirname(exports[-1])
    inputs = serve_inputs(export_dir, pq.read_table(paths[1]))
    served = saved_model_cli_run(export_dir, inputs, serve)
    outputs = tuple(re.findall(r"Result for output key (\w+)", served.stdout))
    if served.returncode or not outputs:
        result.error = (served.stderr.strip().splitlines() or ["no output"])[-1]
        return result
    result.stage, result.outputs = "served", outputs
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tzrec", required=True, help="a TorchEasyRec checkout")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--rows", type=int, default=256, help="generated rows per file")
    parser.add_argument("--steps", type=int, default=3, help="training steps")
    parser.add_argument("--max_table_rows", type=int, default=0, help="0: tables unchanged")
    parser.add_argument("filters", nargs="*", help="run only configs whose path holds one")
    args = parser.parse_args()
    workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="tzrec_ranking_"))
    counts = dict.fromkeys(STAGES[1:], 0)
    configs = [c for c in CONFIGS if not args.filters or any(f in c for f in args.filters)]
    for rel in configs:
        start = time.time()
        work = os.path.join(workdir, rel.replace("/", "+"))
        r = run_config(
            os.path.join(args.tzrec, rel),
            work,
            args.rows,
            args.steps,
            args.max_table_rows,
            cwd=args.tzrec,
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
