"""Parameter-server scale on one machine: a table no process may hold, and throughput
against the number of workers, with the bytes each step moves.

The sample config (samples/configs/mmoe_taobao.config) on the sample data, its user_id
table grown to --rows x --dim (with its Adagrad slot: 2 x rows x dim x 4 bytes). First
the same runs with a 10-row user_id table give each role's own peak RSS (TensorFlow, the
graphs, the other tables: everything but the big table). Then every process is watched
(VmRSS, every 0.2 s) against a cap of

    cap = that role's peak with the small table + --cap_share x (table + slot bytes)

and killed if it goes over. Then:

1. **one process** (no TF_CONFIG) must hold the whole table and its slot: it goes over
   the cap and is killed (the check that the cap binds);
2. **parameter servers** (--ps tasks, 1, 2 and 4 workers, on 127.0.0.1) train
   --steps steps of --batch_size rows each: no process goes over the cap (each ps
   holds its share of the table, the workers only the rows of a batch), and the chief's
   examples/sec (the median of its log lines after the first) is recorded per worker
   count;
3. **cost model**: per step, a worker pulls the rows of its batch's distinct ids of every
   table and the dense weights, and pushes their gradients; measured on the data (distinct
   ids per batch) and the model (dense parameter count), with the throughput a network of
   --gbps per task would allow.

Everything runs on this machine's cores, so the figures say how the pieces behave, not
what a cluster of machines reaches: the load average is printed with them.

Example:
    python scripts/bench/ps_scale.py --rows 4000000 --dim 16 --steps 200 \\
        --out /tmp/ps_scale.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_util import load_average, write_json

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SAMPLE = ROOT / "samples" / "configs" / "mmoe_taobao.config"
TRAIN = ROOT / "samples" / "data" / "taobao_mtl_train.csv"


def rss_of(pid: int) -> float:
    """VmRSS of a process in MiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Watch(threading.Thread):
    """Polls the RSS of named processes ("ps 0", "single", ...); kills one that goes
    over the cap of its role ("ps", "single", ...), in MiB."""

    def __init__(self, procs: dict[str, subprocess.Popen], caps: dict[str, float]):
        super().__init__(daemon=True)
        self.procs, self.caps = procs, caps
        self.peak = {name: 0.0 for name in procs}
        self.killed: dict[str, float] = {}
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    continue
                rss = rss_of(proc.pid)
                self.peak[name] = max(self.peak[name], rss)
                if rss > self.caps[name.split()[0]] and name not in self.killed:
                    self.killed[name] = rss
                    proc.kill()
            time.sleep(0.2)


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def make_config(directory: Path, rows: int, dim: int, batch_size: int, steps: int) -> Path:
    """The sample config on 4 train files, user_id hashed into `rows` x `dim`."""
    from google.protobuf import text_format

    from easymtl.config import PipelineConfig

    lines = TRAIN.read_text().splitlines()
    header, body = lines[:0], lines
    parts = 4
    for i in range(parts):
        (directory / f"part-{i}.csv").write_text("\n".join(header + body[i::parts]) + "\n")
    config = PipelineConfig()
    text_format.Parse(SAMPLE.read_text(), config)
    config.train_input_path = f"{directory}/part-*.csv"
    config.ClearField("eval_input_path")
    config.model_dir = str(directory / "model")
    config.data_config.batch_size = batch_size
    config.train_config.num_steps = steps
    config.train_config.log_step_count_steps = max(steps // 10, 1)
    config.train_config.save_checkpoints_steps = steps
    config.export_config.export_after_train = False
    for feature in config.feature_configs:
        f = getattr(feature, feature.WhichOneof("feature"))
        if f.feature_name == "user_id":
            f.hash_bucket_size, f.embedding_dim = rows, dim
    path = directory / "scale.config"
    path.write_text(text_format.MessageToString(config))
    return path


def start(config: Path, env_tf_config: dict | None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    if env_tf_config is not None:
        env["TF_CONFIG"] = json.dumps(env_tf_config)
    return subprocess.Popen(
        [sys.executable, "-m", "easymtl.train", "--config", str(config)],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def single_process(config: Path, caps: dict) -> dict:
    shutil.rmtree(config.parent / "model", ignore_errors=True)
    proc = start(config, None)
    watch = Watch({"single": proc}, caps)
    watch.start()
    log = proc.communicate()[0]
    watch.done.set()
    return {
        "peak_rss_mib": round(watch.peak["single"], 1),
        "killed_over_cap": "single" in watch.killed,
        "exit": proc.returncode,
        "log_tail": log.strip().splitlines()[-1:] if proc.returncode else [],
    }


def cluster(config: Path, workers: int, ps: int, caps: dict) -> dict:
    shutil.rmtree(config.parent / "model", ignore_errors=True)
    ports = iter(free_ports(1 + workers + ps))
    spec = {
        job: [f"127.0.0.1:{next(ports)}" for _ in range(n)]
        for job, n in (("chief", 1), ("worker", workers), ("ps", ps))
    }
    procs = {}
    for job in ("ps", "worker", "chief"):
        for i in range(len(spec[job])):
            tf_config = {"cluster": spec, "task": {"type": job, "index": i}}
            procs[f"{job} {i}"] = start(config, tf_config)
    watch = Watch(procs, caps)
    watch.start()
    start_time = time.perf_counter()
    chief_log = procs["chief 0"].communicate(timeout=1800)[0]
    wall = time.perf_counter() - start_time
    for name, proc in procs.items():
        if name != "chief 0":
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    watch.done.set()
    speeds = [float(m) for m in re.findall(r"loss [\d.]+ .*?(\d+) examples/sec", chief_log)]
    return {
        "workers": workers,
        "ps": ps,
        "chief_exit": procs["chief 0"].returncode,
        "examples_per_sec": round(statistics.median(speeds[1:]), 1) if len(speeds) > 1 else None,
        "wall_s": round(wall, 1),
        "peak_rss_mib": {k: round(v, 1) for k, v in watch.peak.items()},
        "over_cap": watch.killed,
        "error": [ln for ln in chief_log.splitlines() if ln.startswith("error:")][:1],
    }


def distinct_ids_per_batch(config_path: Path, batch_size: int, batches: int = 20) -> dict:
    """Mean distinct ids per batch of each embedded feature, from the training CSV."""
    from easymtl.config import load_config

    config = load_config(str(config_path))
    fields = [f.input_name for f in config.data_config.input_fields]
    features = {}
    for fc in config.feature_configs:
        f = getattr(fc, fc.WhichOneof("feature"))
        if fc.WhichOneof("feature") == "raw_feature" and not f.boundaries:
            continue
        column = f.expression.split(":")[-1] if f.HasField("expression") else f.feature_name
        sep = (
            f.separator
            if fc.WhichOneof("feature") == "id_feature" and f.HasField("separator")
            else None
        )
        features[f.feature_name] = (fields.index(column), sep, f.embedding_dim)
    with open(TRAIN) as f:
        rows = list(csv.reader(f))[: batch_size * batches]
    result = {}
    for name, (col, sep, dim) in features.items():
        counts = []
        for b in range(batches):
            values = set()
            for row in rows[b * batch_size : (b + 1) * batch_size]:
                cell = row[col]
                values.update(v for v in (cell.split(sep) if sep else [cell]) if v)
            counts.append(len(values))
        result[name] = (statistics.mean(counts), dim)
    return result


def dense_parameters(config_path: Path) -> int:
    """The dense weights of the model (built small: the tables are not allocated)."""
    from google.protobuf import text_format

    from easymtl.config import load_config
    from easymtl.runner import Runner

    config = load_config(str(config_path))
    for fc in config.feature_configs:
        f = getattr(fc, fc.WhichOneof("feature"))
        if f.feature_name == "user_id":
            f.hash_bucket_size = 10
    small = config_path.parent / "small.config"
    small.write_text(text_format.MessageToString(config))
    runner = Runner(load_config(str(small)))
    return sum(int(v.numpy().size) for v in runner.state.dense_vars)


def cost_model(ids: dict, dense: int, batch_size: int, gbps: float, num_ps: int) -> dict:
    rows_bytes = sum(n * dim * 4 for n, dim in ids.values())
    per_step = 2 * rows_bytes + 2 * dense * 4  # pull rows and weights, push their gradients
    bandwidth = gbps * 1e9 / 8
    return {
        "embedding_rows_pulled_bytes": int(rows_bytes),
        "dense_bytes": dense * 4,
        "bytes_per_step_per_worker": int(per_step),
        "bytes_per_example": round(per_step / batch_size, 1),
        "worker_nic_bound_steps_per_sec": round(bandwidth / per_step, 1),
        "ps_side_bound_steps_per_sec": round(num_ps * bandwidth / per_step, 1),
        "gbps_per_task": gbps,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--ps", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--cap_share", type=float, default=0.75)
    parser.add_argument("--gbps", type=float, default=10.0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    directory = Path(tempfile.mkdtemp(prefix="easymtl_ps_scale_"))
    small_dir, big_dir = directory / "small", directory / "big"
    small_dir.mkdir()
    big_dir.mkdir()
    small = make_config(small_dir, 10, args.dim, args.batch_size, args.steps)
    config = make_config(big_dir, args.rows, args.dim, args.batch_size, args.steps)
    table_bytes = 2 * args.rows * args.dim * 4  # the table and its Adagrad accumulator
    unlimited = dict.fromkeys(("single", "chief", "worker", "ps"), float("inf"))
    base = {"single": single_process(small, unlimited)["peak_rss_mib"]}
    peaks = cluster(small, max(args.workers), args.ps, unlimited)["peak_rss_mib"]
    for role in ("chief", "worker", "ps"):
        base[role] = max(v for k, v in peaks.items() if k.split()[0] == role)
    share = args.cap_share * table_bytes / 2**20
    caps = {role: round(rss + share, 1) for role, rss in base.items()}
    print(
        f"user_id table {args.rows} x {args.dim}: {table_bytes / 2**20:.0f} MiB with its "
        f"slot; peak RSS with a 10-row table {base}; caps {caps}; load {load_average()}",
        flush=True,
    )
    result = {
        "rows": args.rows,
        "dim": args.dim,
        "table_and_slot_mib": round(table_bytes / 2**20, 1),
        "small_table_peak_rss_mib": base,
        "cap_mib": caps,
        "load_before": load_average(),
    }
    result["single_process"] = single_process(config, caps)
    print("single process:", result["single_process"], flush=True)
    result["clusters"] = []
    for workers in args.workers:
        run = cluster(config, workers, args.ps, caps)
        print(f"{workers} workers, {args.ps} ps:", run, flush=True)
        result["clusters"].append(run)
    ids = distinct_ids_per_batch(config, args.batch_size)
    dense = dense_parameters(config)
    result["distinct_ids_per_batch"] = {k: round(n, 1) for k, (n, _) in ids.items()}
    result["dense_parameters"] = dense
    result["cost_model"] = cost_model(ids, dense, args.batch_size, args.gbps, args.ps)
    result["load_after"] = load_average()
    print(json.dumps({k: result[k] for k in ("cost_model", "load_after")}, indent=2))
    if args.out:
        write_json(args.out, result)
    shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
