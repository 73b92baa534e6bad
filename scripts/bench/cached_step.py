"""easymtl's train step against the ceiling's on the same cached batches: no input pipeline.

Reads --batches batches of the config's training data once (easymtl's input pipeline,
shuffled as the config says), keeps them in memory, then times, in alternating rounds,
``Runner.compiled_step("train", ...)`` on the raw batches and the ceiling's
(scripts/bench/ceiling.py) ``train_step`` as one tf.function on the same rows pre-hashed.
It prints CPU milliseconds and examples/sec per round, and with --trace the host op time
of 10 steps of each by op type (tf.profiler), and the op events per step.

It isolates the step from the input pipeline and from the load of a shared machine
(alternating rounds see the same load); scripts/bench/throughput.py measures whole runs.

Example:
    python scripts/bench/throughput.py --config samples/configs/mmoe_din_taobao.config \\
        --rows 200000 --train_steps 150   # makes the data in /tmp/easymtl_bench/...
    python scripts/bench/cached_step.py --config samples/configs/mmoe_din_taobao.config \\
        --train_files '/tmp/easymtl_bench/data_200000_20000_seq50/*train*.csv' --trace
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import tempfile
import time

import keras
import tensorflow as tf
from ceiling import Ceiling, prehash

from easymtl.config import load_config
from easymtl.models import build_model, build_model_tasks
from easymtl.optimizers import build_dense_optimizer
from easymtl.runner import Runner


def timed(step, batches, batch_size: int) -> tuple[float, float]:
    """(CPU ms per 1,000 rows, examples/sec) of one pass of `step` over `batches`."""
    cpu, wall = time.process_time(), time.perf_counter()
    for b in batches:
        out = step(b)
    tf.nest.map_structure(lambda t: t.numpy(), out)  # the last step has finished
    rows = len(batches) * batch_size
    return 1e6 * (time.process_time() - cpu) / rows, rows / (time.perf_counter() - wall)


def op_times(step, batches, logdir: str) -> tuple[collections.Counter, float]:
    """Host op milliseconds by op type over 10 steps, and op events per step."""
    tf.profiler.experimental.start(logdir)
    for b in batches[:10]:
        out = step(b)
    tf.nest.map_structure(lambda t: t.numpy(), out)
    tf.profiler.experimental.stop()
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))[-1]
    with open(path, "rb") as f:
        space = xplane_pb2.XSpace.FromString(f.read())
    by_type, events = collections.Counter(), 0
    for plane in space.planes:
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                kind = name.rsplit(":", 1)[1].strip() if ":" in name else ""
                # Ops only: not the step's function, nor the executor's own events.
                if kind and kind not in ("Process", "Run") and not kind.startswith("__"):
                    by_type[kind] += event.duration_ps / 1e9
                    events += 1
    return by_type, events / 10


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True)
    p.add_argument("--train_files", required=True, help="A glob of the train CSV files.")
    p.add_argument("--batch_size", type=int, default=1024)
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--trace", action="store_true", help="Also break 10 steps down by op type.")
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="easymtl_cached_step_")
    config = load_config(args.config)
    config.train_input_path = args.train_files
    config.model_dir = os.path.join(work, "model")
    config.data_config.batch_size = args.batch_size
    runner = Runner(config)
    dataset = runner.build_dataset(True)
    batches = [b for _, b in zip(range(args.batches), dataset)]
    easymtl_step = runner.compiled_step("train", dataset)

    keras.utils.set_random_seed(config.train_config.seed)
    files = sorted(glob.glob(args.train_files))
    easymtl_model = build_model(config.model_config, config.feature_configs)
    x, y = prehash(config, easymtl_model, files, args.batches * args.batch_size)
    ceiling = Ceiling(
        easymtl_model, build_model_tasks(config.model_config), config.train_config.sparse_optimizer
    )
    ceiling.compile(optimizer=build_dense_optimizer(config.train_config.dense_optimizer))
    n = args.batch_size
    ceiling_batches = [
        (
            {k: tf.constant(v[i * n : (i + 1) * n]) for k, v in x.items()},
            {k: tf.constant(v[i * n : (i + 1) * n]) for k, v in y.items()},
        )
        for i in range(args.batches)
    ]
    ceiling(ceiling_batches[0][0])
    ceiling_step = tf.function(ceiling.train_step)

    steps = {"easymtl": (easymtl_step, batches), "ceiling": (ceiling_step, ceiling_batches)}
    for step, bs in steps.values():  # traced, and warm
        for b in bs[:5]:
            step(b)
    print(f"{args.batches} cached batches of {n} rows, {args.config}")
    print("| round | easymtl CPU ms / 1k (examples/s) | ceiling CPU ms / 1k (examples/s) | ratio |")
    print("|---|---|---|---:|")
    for r in range(args.rounds):
        (ec, ew), (cc, cw) = (timed(s, bs, n) for s, bs in steps.values())
        print(f"| {r + 1} | {ec:.1f} ({ew:,.0f}) | {cc:.1f} ({cw:,.0f}) | {cc / ec:.2f} |")
    if args.trace:
        traced = {k: op_times(s, bs, os.path.join(work, k)) for k, (s, bs) in steps.items()}
        (e, e_events), (c, c_events) = traced["easymtl"], traced["ceiling"]
        print(f"\nhost op ms over 10 steps: easymtl {sum(e.values()):.1f} "
              f"({e_events:,.0f} op events a step), ceiling {sum(c.values()):.1f} "
              f"({c_events:,.0f})")  # fmt: skip
        print("| op type | easymtl ms | ceiling ms |\n|---|---:|---:|")
        for op, _ in (e + c).most_common(30):
            print(f"| {op} | {e[op]:.1f} | {c[op]:.1f} |")


if __name__ == "__main__":
    main()
