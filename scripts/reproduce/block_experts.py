"""MMoE with rankers' interaction networks as experts, against MLP experts, on the same
data (docs/reproductions.md, "Rankers as multi-task experts").

From a config whose model is `mmoe`, each variant replaces the experts (every other
field, the data and the budget stay): ``mlp`` the config's own expert_mlp, ``dcn_v2`` a
DCN-V2 expert (cross_num 2, low_rank 32, a deep MLP beside it, final of the MLP
experts' width), ``mask_net`` a MaskNet expert (2 parallel mask blocks, top_mlp of the
MLP experts' width). Each variant and seed trains in a process of its own (``python -m
easymtl.train``, variants alternating within a seed); each line of `--out` is one run's
eval results. ``--report`` prints the table (mean ± std per tower and variant).

Example:
    nice -n 10 python scripts/reproduce/block_experts.py \\
        --config samples/configs/mmoe_taobao.config --out /tmp/blocks_taobao.jsonl
    python scripts/reproduce/block_experts.py --report /tmp/blocks_taobao.jsonl
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

from google.protobuf import text_format

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VARIANTS = ("mlp", "dcn_v2", "mask_net")


def variant_config(path: str, variant: str, seed: int, model_dir: str, extra: list[str]) -> str:
    """The config at `path` with the experts of `variant`, as protobuf text."""
    sys.path.insert(0, ROOT)
    from easymtl.config import parse_config

    with open(path) as f:
        config = parse_config(f.read(), path)
    config.model_dir = model_dir
    config.train_config.seed = seed
    config.export_config.export_after_train = False
    mmoe = config.model_config.mmoe
    width = mmoe.expert_mlp.hidden_units[-1]
    if variant == "dcn_v2":
        deep = list(mmoe.expert_mlp.hidden_units)
        text = f"""dcn_v2 {{ cross {{ cross_num: 2 low_rank: 32 }} deep {{ hidden_units: {deep} }}
                    final {{ hidden_units: [{width}] }} }}"""
        mmoe.ClearField("expert_mlp")
        text_format.Merge(text, mmoe.expert)
    elif variant == "mask_net":
        text = f"""mask_net {{ n_mask_blocks: 2 use_parallel: true
                    mask_block {{ reduction_ratio: 1.0 hidden_dim: {width} }}
                    top_mlp {{ hidden_units: [{width}] }} }}"""
        mmoe.ClearField("expert_mlp")
        text_format.Merge(text, mmoe.expert)
    for source in extra:
        field, _, value = source.partition("=")
        if field == "train_input_path":
            config.train_input_path = value
        elif field == "eval_input_path":
            config.eval_input_path = value
        elif field == "num_epochs":
            config.train_config.num_epochs = int(value)
        else:
            raise SystemExit(
                f"--set {source}: expected train_input_path, eval_input_path or num_epochs"
            )
    return text_format.MessageToString(config)


def report(path: str) -> str:
    with open(path) as f:
        runs = [json.loads(line) for line in f]
    metrics = sorted({k for r in runs for k in r["result"] if k.startswith("auc_")})
    lines = [
        "| experts | " + " | ".join(metrics) + " | seconds per run | examples/sec (train) |",
        "|---" * (len(metrics) + 3) + "|",
    ]
    for variant in VARIANTS:
        mine = [r for r in runs if r["variant"] == variant]
        if not mine:
            continue
        cells = []
        for m in metrics:
            values = [r["result"][m] for r in mine if r["result"].get(m) is not None]
            if len(values) > 1:
                cells.append(f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}")
            else:
                cells.append(f"{values[0]:.4f}")
        seconds = statistics.median(r["seconds"] for r in mine)
        # (Runs whose log had no step line have no rate: NaN.)
        rates = [
            r["examples_per_sec"] for r in mine if r["examples_per_sec"] == r["examples_per_sec"]
        ]
        speed = f"{statistics.median(rates):,.0f}" if rates else "—"
        lines.append(f"| {variant} | " + " | ".join(cells) + f" | {seconds:.0f} | {speed} |")
    loads = [r["load"] for r in runs]
    lines.append(
        f"\n{len(runs)} runs, seeds {sorted({r['seed'] for r in runs})}, "
        f"load average {min(loads):.1f}–{max(loads):.1f}."
    )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", help="A config whose model is mmoe.")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        help="train_input_path=..., eval_input_path=... or num_epochs=...",
    )
    p.add_argument("--out", help="JSON lines, one per run (appended).")
    p.add_argument("--report", help="Print the table of this --out file and exit.")
    args = p.parse_args()
    if args.report:
        print(report(args.report))
        return
    import time

    for seed in (int(s) for s in args.seeds.split(",")):
        variants = args.variants.split(",")
        if seed % 2 == 0:
            variants.reverse()
        for variant in variants:
            work = tempfile.mkdtemp(prefix="blocks_")
            path = os.path.join(work, "pipeline.config")
            with open(path, "w") as f:
                f.write(
                    variant_config(
                        args.config, variant, seed, os.path.join(work, "model"), args.set
                    )
                )
            start = time.perf_counter()
            run = subprocess.run(
                [sys.executable, "-m", "easymtl.train", "--config", path],
                capture_output=True, text=True, cwd=ROOT,
                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
            )  # fmt: skip
            if run.returncode != 0:
                raise SystemExit(f"{variant} seed {seed} failed:\n{run.stderr[-3000:]}")
            seconds = time.perf_counter() - start
            with open(os.path.join(work, "model", "eval_result.json")) as f:
                result = json.load(f)
            speeds = [
                float(line.rsplit("examples/sec", 1)[0].split()[-1].strip("(,"))
                for line in (run.stderr + run.stdout).splitlines()
                if "examples/sec" in line and "step " in line and "eval" not in line
            ]
            shutil.rmtree(work, ignore_errors=True)  # its figures are in the record
            record = {
                "variant": variant,
                "seed": seed,
                "result": result,
                "seconds": seconds,
                "examples_per_sec": statistics.median(speeds) if speeds else float("nan"),
                "load": os.getloadavg()[0],
            }
            print(json.dumps(record), flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
