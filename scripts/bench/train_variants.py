"""Speed and AUC of training variants of one config, over seeds: mixed precision and
gradient accumulation against float32.

Each (seed, variant) trains one epoch and evaluates in a fresh process (so that each has
its own peak RSS); the variants alternate within each seed so that all see the same load.
It prints per variant the mean and spread over the seeds of the train CPU milliseconds per
1,000 examples (the process's CPU time over the steps after the warm-up: the steady
figure on a shared machine), examples/sec, peak RSS and each AUC.

Example:
    python scripts/bench/train_variants.py --config samples/configs/mmoe_taobao.config \\
        --rows 100000 --seeds 1 2 3 --variants fp32 bf16 fp16 accum4
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_util import StepClock, load_average, peak_rss_mb, write_json

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# name -> (train_config overrides as protobuf text, batch size factor)
VARIANTS = {
    "fp32": ("", 1),
    "bf16": ('mixed_precision: "BF16"', 1),
    "fp16": ('mixed_precision: "FP16"', 1),
    # Four batches of a quarter the rows per update: the same rows per update as fp32.
    "accum4_quarter": ("gradient_accumulation_steps: 4", 0.25),
    # Four batches of the full size per update: four times the rows per update.
    "accum4": ("gradient_accumulation_steps: 4", 1),
}


def one_run(args) -> dict:
    """Trains and evaluates one variant at one seed, in this process."""
    from google.protobuf import text_format

    from easymtl.callbacks import Callback
    from easymtl.config import load_config
    from easymtl.runner import Runner

    overrides, factor = VARIANTS[args.variant]
    config = load_config(args.config)
    config.train_input_path = str(Path(args.data_dir) / "taobao_mtl*_train*.csv")
    config.eval_input_path = str(Path(args.data_dir) / "taobao_mtl*_eval*.csv")
    config.model_dir = os.path.join(args.work_dir, f"{args.variant}_{args.seed}")
    config.data_config.batch_size = int(args.batch_size * factor)
    config.data_config.eval_batch_size = args.batch_size
    train = config.train_config
    train.seed = args.seed
    train.save_checkpoints_steps = 10**9
    train.log_step_count_steps = 10**9
    text_format.Merge(overrides, train)
    clock = StepClock()

    class Clock(Callback):
        def after_step(self, step, result):
            clock.mark(int(result.examples))

    runner = Runner(config, callbacks=[Clock()])
    runner.train()
    results = runner.evaluate(restore=False)
    return {
        "variant": args.variant,
        "seed": args.seed,
        **clock.rate(args.warmup_steps),
        "peak_rss_mb": peak_rss_mb(),
        "auc": {k: v for k, v in results.items() if k.startswith("auc")},
        "load_average": load_average(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--data_dir", default=None)
    p.add_argument("--batch_size", type=int, default=1024)
    p.add_argument("--warmup_steps", type=int, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--json", default=None)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--work_dir", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.config = os.path.abspath(args.config)
    sys.path.insert(0, str(ROOT))
    if args.variant:
        write_json(args.out, one_run(args))
        return
    from throughput import ensure_data

    data = ensure_data(args.rows, max(args.rows // 10, args.batch_size), args.data_dir, 4)
    runs: dict[str, list[dict]] = {v: [] for v in args.variants}
    with tempfile.TemporaryDirectory(prefix="easymtl_variants_") as work:
        for seed in args.seeds:
            for variant in args.variants:
                out = os.path.join(work, "out.json")
                cmd = [sys.executable, __file__, f"--config={args.config}", f"--data_dir={data}"]
                cmd += [f"--variant={variant}", f"--seed={seed}", f"--work_dir={work}"]
                cmd += [f"--out={out}", f"--batch_size={args.batch_size}"]
                cmd += [f"--warmup_steps={args.warmup_steps}"]
                env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
                print(f"{variant} seed {seed} (load average {load_average()})", flush=True)
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if proc.returncode:
                    sys.stderr.write(proc.stderr[-3000:])
                    raise SystemExit(f"{variant} seed {seed} failed")
                with open(out) as f:
                    runs[variant].append(json.load(f))
                # Its checkpoint and export are not needed (and take 100 MB a run).
                shutil.rmtree(os.path.join(work, f"{variant}_{seed}"), ignore_errors=True)
                r = runs[variant][-1]
                print(
                    f"  {r['cpu_ms_per_1k']:.1f} CPU ms / 1k, {r['examples_per_sec']:,.0f} "
                    f"examples/s, {r['auc']}",
                    flush=True,
                )
    lines = [
        f"config {args.config}, {args.rows:,} rows, batch {args.batch_size}, seeds {args.seeds}",
        "",
        "| variant | train CPU ms / 1k | examples/s | peak RSS MiB | "
        + " | ".join(sorted(runs[args.variants[0]][0]["auc"]))
        + " |",
        "|---|---:|---:|---:|" + "---:|" * len(runs[args.variants[0]][0]["auc"]),
    ]
    for variant, rs in runs.items():

        def ms(key, rs=rs):
            values = [r[key] for r in rs]
            return f"{statistics.mean(values):,.1f} ± {statistics.pstdev(values):,.1f}"

        aucs = " | ".join(
            f"{statistics.mean(r['auc'][k] for r in rs):.4f} ± "
            f"{statistics.pstdev([r['auc'][k] for r in rs]):.4f}"
            for k in sorted(rs[0]["auc"])
        )
        lines.append(
            f"| {variant} | {ms('cpu_ms_per_1k')} | {ms('examples_per_sec')} | "
            f"{max(r['peak_rss_mb'] for r in rs):,.0f} | {aucs} |"
        )
    loads = [r["load_average"] for rs in runs.values() for r in rs]
    lines.append(f"\nload average (1/5/15 min) at the end of the runs: {loads[0]} … {loads[-1]}")
    text = "\n".join(lines)
    print(text)
    if args.json:
        write_json(args.json, {"runs": runs, "table": text})


if __name__ == "__main__":
    main()
