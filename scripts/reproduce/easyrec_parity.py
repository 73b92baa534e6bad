"""EasyRec's multi-task taobao samples, converted, against the same models written by
hand in easymtl's format (issue 29, item 3).

For each model, ``samples/configs/easyrec/<model>_on_taobao.config`` (EasyRec's sample
converted by ``python -m easymtl.convert``) and
``scripts/reproduce/easyrec_native/<model>.config`` (the same model written natively)
train on Taobao-style data with EasyRec's taobao columns with the same budget and seeds,
alternating the two within each seed, each run in a fresh process; then a table of each
tower's eval AUC (mean ± std over the seeds), the difference and whether it is within
noise (|difference| <= 2 x its standard error).

EasyRec's samples are sized for millions of rows (MMoE: 5,000 steps of 4,096): on the
bundled 40,000 rows they memorize the ids within a few epochs, and their BatchNorm
layers' moving statistics need hundreds of steps. So the runs take 400 steps of 256
rows (batch size and steps overridden alike on both sides) from one pass of fresh rows of
the same generator (the same users, ads and eval file as samples/data):

    python scripts/make_sample_data.py --out_dir runs/taobao_520k --train_rows 520000
    nice -n 10 python scripts/reproduce/easyrec_parity.py \
        --train_input_path runs/taobao_520k/taobao_mtl_train.csv --output_dir runs/easyrec_parity

Finished runs in output_dir are reused; the table goes to output_dir/table.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

MODELS = ["mmoe", "esmm", "dbmtl", "ple", "simple_multi_task", "aitm"]
VARIANTS = {
    "converted": "samples/configs/easyrec/{model}_on_taobao.config",
    "native": "scripts/reproduce/easyrec_native/{model}.config",
}


def run(model: str, variant: str, seed: int, args) -> dict:
    """Trains and evaluates one run (reused if its eval_result.json exists)."""
    model_dir = os.path.join(args.output_dir, f"{model}_{variant}_seed{seed}")
    result = os.path.join(model_dir, "eval_result.json")
    claim = model_dir + ".claimed"
    if not os.path.exists(result):
        try:  # several invocations may share output_dir: each run is claimed once
            os.makedirs(args.output_dir, exist_ok=True)
            os.close(os.open(claim, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return {}
        command = [
            sys.executable, "-m", "easymtl.train",
            "--config", VARIANTS[variant].format(model=model),
            "--model_dir", model_dir,
            "--train_config.seed", str(seed),
            "--train_config.num_steps", str(args.steps),
            "--train_config.log_step_count_steps", "100",
            "--train_config.save_checkpoints_steps", str(args.steps),
            "--data_config.batch_size", str(args.batch_size),
            "--export_config.exporter_type", "none",
        ]  # fmt: skip
        if args.train_input_path:
            command += ["--train_input_path", args.train_input_path]
        start = time.time()
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
        print(f"{model} {variant} seed {seed}: {time.time() - start:.0f} s", flush=True)
    with open(result) as f:
        metrics = json.load(f)
    return {k: v for k, v in metrics.items() if k.startswith("auc_")}


def table(results: dict) -> list[str]:
    """The markdown table of `results` ({model: {variant: [metrics of each seed]}})."""
    lines = [
        "| model | metric | seeds | converted (mean ± std) | native (mean ± std) | difference "
        "| within noise |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, variants in results.items():
        if not variants["native"] or not variants["converted"]:
            continue
        for metric in sorted(variants["native"][0]):
            values = {v: [r[metric] for r in runs] for v, runs in variants.items()}
            mean = {v: statistics.mean(x) for v, x in values.items()}
            std = {v: statistics.stdev(x) if len(x) > 1 else 0.0 for v, x in values.items()}
            diff = mean["converted"] - mean["native"]
            se = math.sqrt(sum(std[v] ** 2 / len(values[v]) for v in values))
            n = min(len(x) for x in values.values())
            ok = ("yes" if abs(diff) <= 2 * se else "**no**") if n > 1 else "(one seed)"
            lines.append(
                f"| {model} | {metric} | {n} | {mean['converted']:.4f} ± {std['converted']:.4f} "
                f"| {mean['native']:.4f} ± {std['native']:.4f} | {diff:+.4f} | {ok} |"
            )
    return lines


def finished(output_dir: str, models: list[str], seeds: list[int]) -> dict:
    """The results of the runs in `output_dir` that have finished."""
    results: dict = {model: {v: [] for v in VARIANTS} for model in models}
    for model in models:
        for variant in VARIANTS:
            for seed in seeds:
                path = os.path.join(output_dir, f"{model}_{variant}_seed{seed}", "eval_result.json")
                if os.path.exists(path):
                    with open(path) as f:
                        metrics = json.load(f)
                    results[model][variant].append(
                        {k: v for k, v in metrics.items() if k.startswith("auc_")}
                    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seeds", default="42,1,2")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--train_input_path", default="")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--output_dir", default="runs/easyrec_parity")
    parser.add_argument(
        "--report", action="store_true", help="Only write the table of the finished runs."
    )
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    models = args.models.split(",")
    if not args.report:
        # Seed by seed, every model in each round: a partial run has every model's pairs.
        for i, seed in enumerate(seeds):
            for model in models:
                order = list(VARIANTS) if i % 2 == 0 else list(reversed(VARIANTS))
                for variant in order:
                    run(model, variant, seed, args)
    lines = table(finished(args.output_dir, models, seeds))
    lines.append("")
    lines.append(
        f"Budget: {args.steps} steps of {args.batch_size} rows (data_config.batch_size and "
        "train_config.num_steps overridden alike on both sides), seeds "
        f"{', '.join(map(str, seeds))}; train data {args.train_input_path or 'of the configs'}; "
        "eval on samples/data/taobao_mtl_eval.csv (10,000 rows)."
    )
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
