"""Training, evaluation and serving throughput of a config, against a ceiling and a peer.

Generates the synthetic Taobao-style data (scripts/make_sample_data.py) at --rows into a
cache directory (or reads it from --data_dir), then measures, one part at a time in its
own process so that each has the machine and its own peak RSS:

1. easymtl: ``Runner.train()`` from the CSV files (examples/sec after --warmup_steps,
   CPU milliseconds per 1,000 examples, time to first step from building the runner,
   peak RSS), then ``Runner.evaluate()`` (examples/sec) and the export.
2. ceiling: the same architecture as a plain Keras 3 model on in-memory, pre-hashed ids
   (scripts/bench/ceiling.py).
3. peer: DeepCTR 0.9.4's MMOE / PLE (for a ranker: its DeepFM, WDL, DCN or xDeepFM) on
   tf-keras, in a virtualenv of its own, on arrays pandas read from the same CSV
   (scripts/bench/deepctr_peer.py); left out for a config with sequences, which
   DeepCTR's multi-task models do not read. A single-task ranker (deepfm, dcn_v2, ...)
   has no ceiling part (ceiling.py writes the multi-task models' concatenated input),
   and a peer only where DeepCTR has its model.
4. serving: the exported SavedModel's p50/p99 latency through its serving signature, for
   batches of 1 and 256 rows.

It prints one table and the ratios easymtl/ceiling, easymtl/peer, eval/train and peak
RSS growth/budget. The machine's load average is printed with it: on a shared machine,
run it twice (or --repeats 2) and compare.

Example:
    python scripts/bench/throughput.py --config samples/configs/mmoe_taobao.config \\
        --rows 1000000
    python scripts/bench/throughput.py --config samples/configs/ple_taobao.config \\
        --rows 100000 --skip_peer
    python scripts/bench/throughput.py --config samples/configs/mmoe_din_taobao.config \\
        --rows 200000 --train_steps 150 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_util import Marks, StepClock, auc, load_average, peak_rss_mb, rss_mb, write_json

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEER_PACKAGES = ["tensorflow-cpu==2.21.*", "tf-keras==2.21.*", "deepctr==0.9.4", "pandas"]
# The rankers with a DeepCTR model of the same name (DeepFM, WDL, DCN, xDeepFM).
PEER_RANKERS = ("deepfm", "wide_and_deep", "dcn_v1", "xdeepfm")
# (name, export_config.input_tile, export_config.embedding_quantization) of the exports
# the serving part measures; the first is the plain one.
SERVING_VARIANTS = [("float32", 0, ""), ("tile3", 3, ""), ("int8", 0, "INT8"), ("bf16", 0, "BF16")]


# ----------------------------------------------------------------------------- data


def ensure_data(
    rows: int, eval_rows: int, data_dir: str | None, files: int, sequence_length: int = 0
) -> Path:
    """The directory of the train/eval CSV files, generated once per size (with the
    click sequence columns when `sequence_length` > 0)."""
    name = f"data_{rows}_{eval_rows}" + (f"_seq{sequence_length}" if sequence_length else "")
    path = Path(data_dir or f"{tempfile.gettempdir()}/easymtl_bench/{name}")
    if (path / "DONE").exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    print(f"generating {rows} train and {eval_rows} eval rows into {path}", flush=True)
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts/make_sample_data.py"),
            f"--out_dir={path}",
            f"--train_rows={rows}",
            f"--eval_rows={eval_rows}",
            f"--num_train_files={files}",
            f"--sequence_length={sequence_length}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (path / "DONE").write_text("")
    return path


def train_glob(data: Path) -> str:
    return str(data / "taobao_mtl*_train*.csv")  # taobao_mtl_ or taobao_mtl_seq_


def eval_glob(data: Path) -> str:
    return str(data / "taobao_mtl*_eval*.csv")


def is_ranker(config_path: str) -> bool:
    """Whether the config's model is a single-task ranker (its groups read by name, which
    ceiling.py's concatenated input does not write)."""
    from easymtl.config import load_config
    from easymtl.models.rank import is_ranker as ranker

    return ranker(load_config(config_path).model_config)


def sequence_length(config_path: str) -> int:
    """The longest sequence_length of the config's sequence features (0: none)."""
    from easymtl.config import load_config
    from easymtl.features.sequence_config import sequence_entries

    config = load_config(config_path)
    return max((e.sequence_length for e in sequence_entries(config.feature_configs)), default=0)


# ---------------------------------------------------------------------- easymtl part


def easymtl_part(args, data: Path) -> dict:
    """Trains, evaluates and exports with the runner; times every step, the phases before
    the first (from the process's start) and the whole process; marks the RSS."""
    marks = Marks()  # the imports: from the process's start to here
    from easymtl.callbacks import Callback
    from easymtl.config import load_config
    from easymtl.export import export_saved_model
    from easymtl.runner import Runner

    marks.mark("imports")
    baseline_rss = rss_mb()
    config = load_config(args.config)
    config.train_input_path = train_glob(data)
    config.eval_input_path = eval_glob(data)
    config.model_dir = os.path.join(args.work_dir, "model_dir")
    shutil.rmtree(config.model_dir, ignore_errors=True)
    config.data_config.batch_size = args.batch_size
    config.data_config.eval_batch_size = args.eval_batch_size or args.batch_size
    train = config.train_config
    train.save_checkpoints_steps = 10**9  # one checkpoint, after the last step
    train.log_step_count_steps = 100
    if args.train_steps:
        train.num_steps = args.train_steps
    if args.eval_steps:
        config.eval_config.num_steps = args.eval_steps
    marks.mark("config")

    clocks = {}
    rss = {"after imports": baseline_rss}

    class Clocks(Callback):
        """Marks the phases before the first step and the end of every step."""

        def before_train(self, step):
            marks.mark("restore")

        def before_step(self, step):
            if not clocks["train"].marks:
                marks.mark("dataset, first batch and tracing (overlapped)")

        def after_step(self, step, result):
            first = not clocks["train"].marks
            clocks["train"].mark(int(result.examples))
            if first:
                marks.mark("first step (graph optimization and run)")
                rss["after the first step"] = rss_mb()

        def after_eval_step(self, index, examples):
            if examples:  # a batch left empty by skipped bad rows runs no step
                clocks["eval"].mark(examples)

    clocks["train"] = StepClock()  # time to first step counts building the model
    runner = Runner(config, callbacks=[Clocks()])
    marks.mark("runner (model, variables, optimizers)")
    rss["after the runner"] = rss_mb()
    runner.train()
    rss["after training"] = rss_mb()
    train_peak = peak_rss_mb()
    model_bytes = sum(v.numpy().nbytes for v in runner.model.variables)
    slot_bytes = sum(v.numpy().nbytes for v in runner.state.dense_optimizer.variables)
    slot_bytes += sum(
        s.numpy().nbytes for slots in runner.state.sparse_optimizer.slots for s in slots
    )
    batch = next(iter(runner.build_dataset(False)))
    batch_bytes = sum(_nbytes(v) for v in batch.values())
    clocks["eval"] = StepClock()
    results = runner.evaluate()
    export_dir = os.path.join(args.work_dir, "export")
    shutil.rmtree(export_dir, ignore_errors=True)
    export_saved_model(runner.model, runner.serving_specs(), export_dir, config)
    whole = marks.since_start()
    # The serving variants (not counted in the whole process): one user, many candidates
    # (export_config.input_tile 3), and the tables in INT8 and BF16.
    for name, tile, quantization in SERVING_VARIANTS[1:]:
        path = os.path.join(args.work_dir, f"export_{name}")
        shutil.rmtree(path, ignore_errors=True)
        export_saved_model(
            runner.model,
            runner.serving_specs(),
            path,
            config,
            input_tile=tile,
            embedding_quantization=quantization,
        )
    return {
        "part": "easymtl",
        "first_step_s": clocks["train"].first_step_s(),
        "phases": marks.phases,
        "whole_process": whole,
        **clocks["train"].rate(args.warmup_steps),
        "eval": clocks["eval"].rate(5),
        "auc": {k: v for k, v in results.items() if k.startswith("auc")},
        "baseline_rss_mb": baseline_rss,
        "rss_mb": rss,
        "peak_rss_mb": train_peak,
        "budget_mb": (model_bytes + slot_bytes + 2 * batch_bytes) / 2**20,
        "params_mb": model_bytes / 2**20,
        "slots_mb": slot_bytes / 2**20,
        "batch_mb": batch_bytes / 2**20,
        "export_dir": export_dir,
        "load_average": load_average(),
    }


def _nbytes(tensor) -> int:
    """Bytes a tensor holds; a string takes its length plus a 24-byte tstring."""
    import tensorflow as tf

    if tensor.dtype == tf.string:
        return int(tf.reduce_sum(tf.strings.length(tensor))) + 24 * int(tf.size(tensor))
    return int(tf.size(tensor)) * tensor.dtype.size


def serving_part(args, data: Path) -> dict:
    """p50/p99 latency of the export's serving signature on raw eval rows: batches of 1
    and 256, and 256 candidates of one user through the tiled export (input_tile 3); the
    AUC of each export (float32 tables, INT8, BF16) on the eval rows."""
    import numpy as np
    import tensorflow as tf

    from easymtl.config import load_config
    from easymtl.data import build_dataset, expand_paths
    from easymtl.export.options import user_inputs
    from easymtl.models import task_towers

    config = load_config(args.config)
    signatures = {
        name: tf.saved_model.load(
            args.export_dir if name == "float32" else f"{args.export_dir}_{name}"
        ).signatures["serving_default"]
        for name, _, _ in SERVING_VARIANTS
    }
    serve = signatures["float32"]
    wanted = set(serve.structured_input_signature[1])
    inputs = [f.input_name for f in config.data_config.input_fields if f.input_name in wanted]
    towers = [t.tower_name for t in task_towers(config.model_config)]
    labels = [t.label_name for t in task_towers(config.model_config)]
    files = expand_paths(eval_glob(data), "eval_input_path")
    rows = next(iter(build_dataset(config.data_config, files, inputs, 256, training=False)))
    users = set(user_inputs(config.feature_configs)) & wanted
    one_user = {k: v[:1] if k in users else v for k, v in rows.items()}
    result = {"part": "serving", "user_inputs": sorted(users)}
    timed = [
        ("batch_1", serve, {k: v[:1] for k, v in rows.items()}, args.serving_calls),
        ("batch_256", serve, rows, max(20, args.serving_calls // 4)),
        # The same 256 rows with every user-side column of the first row's user.
        (
            "batch_256_one_user",
            serve,
            {k: v if k not in users else tf.repeat(v[:1], 256) for k, v in rows.items()},
            max(20, args.serving_calls // 4),
        ),
        ("batch_256_tile3", signatures["tile3"], one_user, max(20, args.serving_calls // 4)),
    ]
    for _ in range(2):  # alternating, so that each sees the same load
        for key, fn, feed, calls in timed:
            for _ in range(10):
                fn(**feed)
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                fn(**feed)
                times.append(time.perf_counter() - start)
            p50 = 1e3 * float(np.percentile(times, 50))
            if key not in result or p50 < result[key]["p50_ms"]:
                result[key] = {
                    "p50_ms": p50,
                    "p99_ms": 1e3 * float(np.percentile(times, 99)),
                    "calls": calls,
                }
    # AUC of each export on the eval rows (at most --serving_auc_rows).
    batches = build_dataset(config.data_config, files, inputs + labels, 1024, training=False)
    # The tiled export takes one user a request: it serves what the plain one does
    # (tests/export/test_options.py); its AUC is the plain one's.
    scored = {name: fn for name, fn in signatures.items() if name != "tile3"}
    scores = {name: {t: [] for t in labels} for name in scored}
    truth = {t: [] for t in labels}
    seen = 0
    for batch in batches:
        feed = {k: v for k, v in batch.items() if k in wanted}
        for label in labels:
            truth[label].append(batch[label].numpy())
        for name, fn in scored.items():
            out = fn(**feed)
            for tower, label in zip(towers, labels):
                scores[name][label].append(out[f"probs_{tower}"].numpy())
        seen += int(tf.shape(batch[labels[0]])[0])
        if seen >= args.serving_auc_rows:
            break
    result["auc"] = {
        name: {
            f"auc_{tower}": auc(np.concatenate(truth[label]), np.concatenate(by_label[label]))
            for tower, label in zip(towers, labels)
        }
        for name, by_label in scores.items()
    }
    result["auc_rows"] = seen
    result["load_average"] = load_average()
    return result


def peer_spec(config_path: str) -> dict:
    """The architecture of the config, as deepctr_peer.py (without easymtl) takes it."""
    from easymtl.config import load_config
    from easymtl.features import input_name, table_name
    from easymtl.models import task_towers

    config = load_config(config_path)
    features = []
    for fc in config.feature_configs:
        kind = fc.WhichOneof("feature")
        f = getattr(fc, kind)
        spec = {"name": f.feature_name, "column": input_name(f), "table": table_name(f)}
        spec["dim"] = f.embedding_dim
        if kind == "raw_feature":
            if not f.boundaries:
                raise SystemExit(f"peer: dense raw_feature {f.feature_name} is not written")
            spec.update(kind="boundaries", boundaries=list(f.boundaries))
            spec.update(rows=len(f.boundaries) + 1, pooling="sum")
        elif f.HasField("hash_bucket_size"):
            spec.update(kind="hash", rows=f.hash_bucket_size)
        elif f.HasField("num_buckets"):
            spec.update(kind="num_buckets", rows=f.num_buckets)
        else:
            raise SystemExit(
                f"peer: id_feature {f.feature_name} needs hash_bucket_size or num_buckets"
            )
        if kind == "id_feature":
            spec.update(separator=f.separator or None, pooling=f.pooling or "sum")
        features.append(spec)
    mc = config.model_config
    kind = mc.WhichOneof("model")
    towers = task_towers(mc)
    tower_units = list(towers[0].mlp.hidden_units)
    msg = getattr(mc, kind)
    if kind in PEER_RANKERS:
        model = {"deep_units": list(msg.deep.hidden_units)}
        if kind == "dcn_v1":
            model["cross_num"] = msg.cross.cross_num
        if kind == "xdeepfm":
            model["cin_layer_size"] = list(msg.cin.cin_layer_size)
    elif kind == "mmoe":
        model = {
            "num_expert": msg.num_expert,
            "expert_units": list(msg.expert_mlp.hidden_units),
            "gate_units": list(msg.gate_mlp.hidden_units),
            "tower_units": tower_units,
        }
    elif kind == "ple":
        levels = [
            {
                "specific": n.expert_num_per_task,
                "shared": n.share_num,
                "units": list(n.task_expert_net.hidden_units),
            }
            for n in msg.extraction_networks
        ]
        model = {"levels": levels, "tower_units": tower_units}
    else:
        raise SystemExit(
            f"peer: model {kind} has no DeepCTR counterpart here "
            f"(mmoe, ple, {', '.join(PEER_RANKERS)}); run with --skip_peer"
        )
    dense = config.train_config.dense_optimizer
    return {
        "columns": [f.input_name for f in config.data_config.input_fields],
        "labels": {t.tower_name or "label": t.label_name for t in towers},
        "features": features,
        "kind": kind,
        "model": model,
        "lr": getattr(dense, dense.WhichOneof("optimizer") or "adam_optimizer").lr,
    }


# --------------------------------------------------------------------------- driver


def peer_python(args) -> str:
    """The DeepCTR virtualenv's python, created on first use."""
    venv = Path(args.peer_venv or f"{tempfile.gettempdir()}/easymtl_bench/peer_venv")
    python = venv / "bin" / "python"
    if not (venv / "READY").exists():
        print(f"creating the DeepCTR virtualenv {venv} ({' '.join(PEER_PACKAGES)})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (venv / "READY").write_text("")
    return str(python)


def run_part(args, part: str, data: Path) -> dict:
    """Runs one part in a fresh process and returns its result."""
    out = os.path.join(args.work_dir, f"{part}.json")
    common = [f"--config={args.config}", f"--batch_size={args.batch_size}", f"--out={out}"]
    common.append(f"--warmup_steps={args.warmup_steps}")
    if args.train_steps and part != "serving":
        common.append(f"--train_steps={args.train_steps}")
    env = dict(os.environ)
    if part == "ceiling":
        cmd = [sys.executable, str(HERE / "ceiling.py"), f"--train_files={train_glob(data)}"]
    elif part == "peer":
        spec = os.path.join(args.work_dir, "peer_spec.json")
        write_json(spec, peer_spec(args.config))
        cmd = [peer_python(args), str(HERE / "deepctr_peer.py"), f"--spec={spec}"]
        cmd += [f"--train_files={train_glob(data)}", f"--eval_files={eval_glob(data)}"]
        env["TF_USE_LEGACY_KERAS"] = "1"
    else:
        cmd = [sys.executable, __file__, f"--part={part}", f"--data_dir={data}"]
        cmd += [f"--work_dir={args.work_dir}", f"--rows={args.rows}"]
        cmd += [f"--serving_calls={args.serving_calls}", f"--export_dir={args.export_dir}"]
        cmd.append(f"--serving_auc_rows={args.serving_auc_rows}")
        if args.eval_steps:
            cmd.append(f"--eval_steps={args.eval_steps}")
        if args.eval_batch_size:
            cmd.append(f"--eval_batch_size={args.eval_batch_size}")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print(f"running {part} (load average {load_average()})", flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd + common, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"the {part} part failed (exit {proc.returncode})")
    with open(out) as f:
        result = json.load(f)
    # The process as a whole, start to exit (the easymtl part also writes the serving
    # variants' exports after its whole-process mark).
    result["process"] = {
        "wall_s": time.perf_counter() - start,
        "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    }
    return result


def best(results: list[dict]) -> dict:
    """The run with the highest training throughput."""
    return max(results, key=lambda r: r.get("examples_per_sec") or 0.0)


def fmt(value, spec: str = ",.0f", none: str = "–") -> str:
    return none if value is None else format(value, spec)


def _aucs(result: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in sorted(result.get("auc", {}).items())) or "–"


def _whole(result: dict) -> str:
    w = result.get("whole_process")
    return f"{w['wall_s']:.1f} s ({w['cpu_s']:.1f} CPU s)" if w else "–"


def table(args, data: Path, runs: dict[str, list[dict]]) -> str:
    e = best(runs["easymtl"])
    c = best(runs["ceiling"]) if runs.get("ceiling") else None
    p = best(runs["peer"]) if runs.get("peer") else None
    s = runs["serving"][-1]
    first_from_start = sum(ph["wall_s"] for ph in e["phases"])
    lines = [
        f"config {args.config}, {e['steps'] + args.warmup_steps + 1} train steps of batch "
        f"{args.batch_size} over {args.rows:,} rows ({data}); best of {args.repeats}",
        f"machine: {os.cpu_count()} CPU cores; load average (1/5/15 min) at the end of each "
        f"part: easymtl {e['load_average']}"
        + (f", ceiling {c['load_average']}" if c else "")
        + (f", peer {p['load_average']}" if p else ""),
        "",
        "| run | train examples/s | CPU ms / 1k examples | time to first step | "
        "eval examples/s | peak RSS | whole process | AUC |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        f"| easymtl (CSV → Runner) | {fmt(e['examples_per_sec'])} | "
        f"{fmt(e['cpu_ms_per_1k'], '.1f')} | {first_from_start:.1f} s "
        f"({e['first_step_s']:.1f} s after the imports) | "
        f"{fmt(e['eval']['examples_per_sec'])} | {e['peak_rss_mb']:,.0f} MiB | "
        f"{_whole(e)} to the export | {_aucs(e)} |",
    ]
    if c:
        lines.append(
            f"| ceiling (Keras 3, pre-hashed ids in memory) | {fmt(c['examples_per_sec'])} | "
            f"{fmt(c['cpu_ms_per_1k'], '.1f')} | {c['first_step_s']:.1f} s "
            f"(+{c['prehash_s']:.0f} s hashing) | – | {c['peak_rss_mb']:,.0f} MiB | – | – |"
        )
    if p:
        lines.append(
            f"| peer (DeepCTR 0.9.4 {p['model']}, tf-keras) | {fmt(p['examples_per_sec'])} "
            f"({fmt(p['end_to_end_examples_per_sec'])} with the read) | "
            f"{fmt(p['cpu_ms_per_1k'], '.1f')} | {p['first_step_s']:.1f} s "
            f"(pandas read {p['read_s']:.1f} s) | – | {p['peak_rss_mb']:,.0f} MiB | "
            f"{_whole(p)} to the predictions | {_aucs(p)} |"
        )
    lines += ["", "time to first step (easymtl), from the process's start, wall (CPU) seconds:"]
    lines.append(
        "  "
        + "; ".join(f"{ph['phase']} {ph['wall_s']:.2f} ({ph['cpu_s']:.2f})" for ph in e["phases"])
    )
    lines.append(
        "RSS (easymtl), MiB: "
        + "; ".join(f"{k} {v:,.0f}" for k, v in e["rss_mb"].items())
        + f"; peak {e['peak_rss_mb']:,.0f}; params {e['params_mb']:.1f}, slots "
        f"{e['slots_mb']:.1f}, a batch {e['batch_mb']:.1f}"
    )
    lines += ["", "serving (SavedModel signature), p50 / p99 ms:"]
    names = {
        "batch_1": "batch 1",
        "batch_256": "batch 256",
        "batch_256_one_user": "batch 256, one user's 256 candidates",
        "batch_256_tile3": "the same request tiled (input_tile 3: the user's columns once)",
    }
    for key, name in names.items():
        if key in s:
            lines.append(f"  {name}: {s[key]['p50_ms']:.2f} / {s[key]['p99_ms']:.2f}")
    if "auc" in s:
        plain = s["auc"]["float32"]
        lines.append(f"export AUC on {s['auc_rows']:,} eval rows by table precision:")
        for name, aucs in s["auc"].items():
            change = ", ".join(f"{k} {v - plain[k]:+.4f}" for k, v in aucs.items())
            shown = ", ".join(f"{k} {v:.4f}" for k, v in aucs.items())
            lines.append(f"  {name}: {shown}" + ("" if name == "float32" else f" ({change})"))
    lines += [
        "",
        "| ratio | measured | target |",
        "|---|---:|---:|",
        f"| time to first step, from the process's start | {first_from_start:.1f} s | ≤ 3 s |",
    ]
    if c:
        lines.append(
            f"| easymtl / ceiling (train) | {e['examples_per_sec'] / c['examples_per_sec']:.2f} "
            "| ≥ 0.9 |"
        )
    if p:
        lines.append(
            f"| easymtl / peer (train; peer with its read) | "
            f"{e['examples_per_sec'] / p['examples_per_sec']:.2f} "
            f"({e['examples_per_sec'] / p['end_to_end_examples_per_sec']:.2f}) | – |"
        )
        if p.get("whole_process"):
            we, wp = e["whole_process"], p["whole_process"]
            parity = max(
                (abs(e["auc"][k] - p["auc"][k]) for k in p["auc"] if k in e["auc"]), default=0.0
            )
            lines.append(
                "| whole process: peer / easymtl (wall; by CPU) | "
                f"{wp['wall_s'] / we['wall_s']:.2f}"
                f" ({wp['cpu_s'] / we['cpu_s']:.2f}) | ≥ 2 |"
            )
            lines.append(f"| AUC difference, largest of the towers | {parity:.4f} | ≤ 0.005 |")
    growth = e["peak_rss_mb"] - e["baseline_rss_mb"]
    lines += [
        f"| eval / train (easymtl) | "
        f"{e['eval']['examples_per_sec'] / e['examples_per_sec']:.2f} | ≥ 3 |",
        f"| peak RSS growth / (params + slots + 2 batches) | {growth / e['budget_mb']:.2f} "
        f"({growth:,.0f} of {e['budget_mb']:,.0f} MiB; the runtime before the model: "
        f"{e['baseline_rss_mb']:,.0f} MiB) | ≤ 1.5 |",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True)
    p.add_argument("--rows", type=int, default=1_000_000, help="Train rows.")
    p.add_argument("--eval_rows", type=int, default=None, help="Default: rows / 10.")
    p.add_argument("--data_dir", default=None, help="Data directory (made if not there).")
    p.add_argument("--num_train_files", type=int, default=4)
    p.add_argument("--batch_size", type=int, default=1024)
    p.add_argument("--eval_batch_size", type=int, default=None, help="Default: batch_size.")
    p.add_argument("--train_steps", type=int, default=None, help="Default: one epoch.")
    p.add_argument("--eval_steps", type=int, default=None, help="Default: all eval rows.")
    p.add_argument("--warmup_steps", type=int, default=20, help="Steps not timed.")
    p.add_argument("--serving_calls", type=int, default=400, help="Timed batch-1 calls.")
    p.add_argument(
        "--serving_auc_rows", type=int, default=20000, help="Eval rows each export scores."
    )
    p.add_argument("--skip_peer", action="store_true")
    p.add_argument("--peer_venv", default=None, help="DeepCTR virtualenv (made if missing).")
    p.add_argument("--repeats", type=int, default=1, help="Runs of each part; best kept.")
    p.add_argument("--json", default=None, help="Also write every result to this file.")
    p.add_argument("--work_dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--part", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    p.add_argument("--export_dir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.config = os.path.abspath(args.config)

    if args.part:  # one part, in this process
        sys.path.insert(0, str(ROOT))
        data = Path(args.data_dir)
        fn = {"easymtl": easymtl_part, "serving": serving_part}[args.part]
        write_json(args.out, fn(args, data))
        return

    eval_rows = args.eval_rows or max(args.rows // 10, args.batch_size)
    sys.path.insert(0, str(ROOT))
    length = sequence_length(args.config)
    if length and not args.skip_peer:
        print("no peer: DeepCTR's MMOE and PLE take no sequence encoder", flush=True)
        args.skip_peer = True
    data = ensure_data(args.rows, eval_rows, args.data_dir, args.num_train_files, length)
    ranker = is_ranker(args.config)
    if ranker:
        print("no ceiling: ceiling.py writes the multi-task models' input", flush=True)
    with tempfile.TemporaryDirectory(prefix="easymtl_bench_") as work:
        args.work_dir = work
        args.export_dir = os.path.join(work, "export")
        runs: dict[str, list[dict]] = {"easymtl": [], "ceiling": [], "peer": [], "serving": []}
        parts = ["easymtl"] + ([] if ranker else ["ceiling"]) + ([] if args.skip_peer else ["peer"])
        for _ in range(args.repeats):
            for part in parts:
                runs[part].append(run_part(args, part, data))
        runs["serving"].append(run_part(args, "serving", data))
    text = table(args, data, runs)
    print(text)
    if args.json:
        write_json(args.json, {"args": vars(args), "runs": runs, "table": text})


if __name__ == "__main__":
    main()
