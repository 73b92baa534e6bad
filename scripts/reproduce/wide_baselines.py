"""Learning per example: a config's deep models against a logistic regression over the
same features and the right crosses, and the same models with a WIDE group added, on the
same data, budget and seeds (issue 14, item 3).

Three variants of one config are trained:

- ``deep``: the config as it is, through ``easymtl.compare`` (its model, the other
  multi-task architectures of ``--architectures`` and a single-task model per tower);
- ``wide``: the same runs with a WIDE group added, holding the deep groups' (non-sequence)
  features and the ``--crosses`` (combo_features of two or more input columns), so that
  each tower's logit gets a first-order term per task;
- ``lr``: a logistic regression: only that WIDE group, ``simple_multi_task`` with the
  config's towers without their mlp (each tower: its wide term plus a bias).

    python scripts/reproduce/wide_baselines.py --config samples/configs/mmoe_taobao.config \\
        --crosses "user_id*cate_id,tag_category_list*cate_id" --output_dir runs/wide/taobao

It prints one line per run and a table of each tower metric per architecture and variant
(mean ± std over the seeds; ▲ / ▼: ``wide`` better / worse than ``deep`` beyond noise,
as easymtl.compare judges it) and writes it to output_dir/table.md. Finished runs in
output_dir are reused.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import os
import statistics
import sys
import time

WIDE_GROUP = "wide"


def cross_features(crosses: list[str], buckets: int, separator: str | None) -> list:
    """A combo_feature FeatureConfig per cross ``a*b[*c]`` of input columns, named
    ``a_x_b``, hashed into `buckets` buckets; `separator` splits multi-value cells."""
    from easymtl.protos import feature_pb2

    features = []
    for cross in crosses:
        columns = [c.strip() for c in cross.split("*")]
        fc = feature_pb2.FeatureConfig()
        combo = fc.combo_feature
        combo.feature_name = "_x_".join(columns)
        combo.expression.extend(columns)
        combo.hash_bucket_size = buckets
        combo.embedding_dim = 1
        if separator:
            combo.separator = separator
        features.append(fc)
    return features


def wide_features(model_config) -> list[str]:
    """The features of the config's DEEP groups (not their sequence groups), in order."""
    names = []
    for group in model_config.feature_groups:
        if group.group_type == 0:  # DEEP
            names += list(group.feature_names)
    return list(dict.fromkeys(names))


def with_wide(config, crosses: list) -> object:
    """`config` with the `crosses` features and a WIDE group of its deep features and them."""
    from easymtl.protos import model_pb2

    config = copy.deepcopy(config)
    config.feature_configs.extend(crosses)
    names = wide_features(config.model_config) + [c.combo_feature.feature_name for c in crosses]
    group = config.model_config.feature_groups.add(group_name=WIDE_GROUP)
    group.group_type = model_pb2.WIDE
    group.feature_names.extend(names)
    return config


def logistic_regression(config, crosses: list) -> object:
    """The logistic regression of `config`: only the WIDE group of :func:`with_wide`,
    simple_multi_task with the config's towers (plain TaskTowers) without mlp."""
    from easymtl.compare.architectures import plain_task_tower
    from easymtl.models import task_towers

    wide = with_wide(config, crosses)
    model = wide.model_config
    towers = [plain_task_tower(t) for t in task_towers(model)]
    groups = [g for g in model.feature_groups if g.group_name == WIDE_GROUP]
    model.ClearField("feature_groups")
    model.feature_groups.extend(groups)
    model.ClearField(model.WhichOneof("model"))
    for tower in towers:
        tower.ClearField("mlp")
        model.simple_multi_task.task_towers.add().CopyFrom(tower)
    return wide


def train_seeds(config, output_dir: str, seeds: int, progress) -> list[dict]:
    """Trains and evaluates `config` with train_config.seed + 0 .. seeds-1, each run in
    output_dir/seed<k> (a finished run is reused); returns their eval results."""
    import keras

    from easymtl.config import validate
    from easymtl.runner import Runner

    results = []
    for seed in range(seeds):
        run = copy.deepcopy(config)
        run.model_dir = os.path.join(output_dir, f"seed{seed}")
        run.train_config.seed = config.train_config.seed + seed
        validate(run)
        path = os.path.join(run.model_dir, "eval_result.json")
        start = time.perf_counter()
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                result = json.load(f)
        else:
            keras.backend.clear_session()
            runner = Runner(run)
            runner.train()
            result = runner.evaluate()
        progress(f"lr seed {seed}: {_metrics(result)}  ({time.perf_counter() - start:.0f}s)")
        results.append({"row": "lr", "run": "lr", "seed": seed, **result})
    return results


def _metrics(result: dict) -> str:
    return "  ".join(
        f"{k} {v:.4f}" for k, v in result.items() if k.startswith(("auc", "gauc")) and v
    )


def summary(config, variants: dict[str, list[dict]]) -> str:
    """The markdown table: per architecture, each tower's first metric per variant
    (mean ± std), and wide − deep with ▲ / ▼ beyond noise."""
    from easymtl.compare.architectures import tower_columns
    from easymtl.compare.table import NOISE_SE
    from easymtl.models import task_towers

    columns = [tower_columns(t)[0] for t in task_towers(config.model_config)]
    values: dict[tuple[str, str, str], list[float]] = {}
    rows: list[str] = []
    for variant, results in variants.items():
        for r in results:
            row = r["row"]
            if row not in rows:
                rows.append(row)
            for c in columns:
                key = c
                if row == "esmm" and c != columns[0]:
                    # As easymtl.compare: ESMM's conversion column is its CTCVR metric.
                    key = c.rsplit("_", 1)[0] + "_ctcvr"
                if r.get(key) is not None:
                    values.setdefault((row, variant, c), []).append(float(r[key]))

    def cell(xs):
        if not xs:
            return "—"
        sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
        return f"{statistics.mean(xs):.4f} ± {sd:.4f}"

    head = "| architecture | " + " | ".join(
        f"{c} deep | {c} +wide | {c} wide − deep" for c in columns
    )
    lines = [head + " |", "|---|" + "---|---|---|" * len(columns)]
    for row in rows:
        cells = []
        for c in columns:
            a, b = values.get((row, "deep", c), []), values.get((row, "wide", c), [])
            if row == "lr":
                cells += [cell(values.get((row, "lr", c), [])), "", ""]
                continue
            diff = ""
            if a and b:
                d = statistics.mean(b) - statistics.mean(a)
                se = math.sqrt(
                    (statistics.variance(a) / len(a) if len(a) > 1 else 0.0)
                    + (statistics.variance(b) / len(b) if len(b) > 1 else 0.0)
                )
                mark = " ▲" if d > NOISE_SE * se and d > 1e-4 else ""
                mark = " ▼" if -d > NOISE_SE * se and -d > 1e-4 else mark
                diff = f"{d:+.4f}{mark}"
            cells += [cell(a), cell(b), diff]
        label = "lr (logistic regression)" if row == "lr" else row
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    seeds = max(len(v) for v in values.values())
    lines.append("")
    lines.append(
        f"Mean ± sample std over {seeds} seeds. ▲ / ▼: +wide better / worse than deep "
        f"beyond noise (|diff| > {NOISE_SE:g} × sqrt(std_a²/n_a + std_b²/n_b))."
    )
    return "\n".join(lines) + "\n"


def run(args) -> None:
    from easymtl.compare import compare
    from easymtl.config import load_config

    overrides = []
    if args.train_input_path or args.eval_input_path:
        paths = {
            k: v
            for k, v in (
                ("train_input_path", args.train_input_path),
                ("eval_input_path", args.eval_input_path),
            )
            if v
        }
        overrides.append(("--input_path", paths))
    config = load_config(args.config, overrides)
    if args.extra:
        from google.protobuf import text_format

        text_format.Merge(args.extra, config)
    if args.num_steps:
        config.train_config.num_steps = args.num_steps
        config.train_config.ClearField("num_epochs")
    crosses = cross_features(
        [c for c in args.crosses.split(",") if c.strip()], args.cross_buckets, args.separator
    )
    only = args.architectures.split(",")
    progress = lambda line: print(line, flush=True)  # noqa: E731
    variants = {}
    for name in args.variants.split(","):
        print(f"== {name}", flush=True)
        out = os.path.join(args.output_dir, name)
        if name == "lr":
            variants[name] = train_seeds(
                logistic_regression(config, crosses), out, args.seeds, progress
            )
            continue
        variant = config if name == "deep" else with_wide(config, crosses)
        report = compare(variant, out, seeds=args.seeds, only=only, progress=progress)
        variants[name] = report.results
    table = summary(config, variants)
    print()
    print(table)
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "table.md"), "w", encoding="utf-8") as f:
        f.write(table)
    print(f"wrote {os.path.join(args.output_dir, 'table.md')}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--crosses", default="", help='Crosses of input columns: "a*b,c*d".')
    parser.add_argument("--cross_buckets", type=int, default=100_000)
    parser.add_argument("--separator", help="Splits multi-value cells of crossed columns.")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--num_steps", type=int, help="Training steps (default: the config's).")
    parser.add_argument("--architectures", default="single_task,shared_bottom,mmoe,ple")
    parser.add_argument("--variants", default="lr,deep,wide")
    parser.add_argument(
        "--extra", help="Protobuf text merged into the config, e.g. a train_config change."
    )
    parser.add_argument("--train_input_path")
    parser.add_argument("--eval_input_path")
    args = parser.parse_args(argv)
    from easymtl import cli

    def job():
        logging.getLogger("easymtl").setLevel(logging.WARNING)
        run(args)

    return cli.run(job)


if __name__ == "__main__":
    sys.exit(main())
