"""python -m easymtl.tune --config X.config --search_space S.yaml --output_dir D
--metric M [--n_trials N] [--direction maximize|minimize] [--storage URL]: tune X.

Prints one line per trial, then the trials table; writes D/trials.csv, D/trials.md,
D/trials.png and D/best.config. Needs Optuna (``pip install 'easymtl[tune]'``).
"""

from __future__ import annotations

import os
import sys
import warnings

from easymtl import cli


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser(
        "Search config fields (learning rates, widths, expert counts, embedding dims, "
        "loss weights, ...) for the best eval metric, one training process per trial.",
        "easymtl.tune",
    )
    parser.add_argument(
        "--search_space", required=True, help="YAML file: config field path -> distribution."
    )
    parser.add_argument(
        "--output_dir", required=True, help="Where the trials, the table and best.config go."
    )
    parser.add_argument(
        "--metric", required=True, help="The eval_result.json value to optimise, e.g. auc_ctr."
    )
    parser.add_argument(
        "--direction",
        choices=("maximize", "minimize"),
        help="Default: minimize for loss* and error metrics, else maximize.",
    )
    parser.add_argument(
        "--n_trials", type=int, default=20, help="Total trials of the study, over all runs."
    )
    parser.add_argument(
        "--storage",
        help="Optuna storage URL shared by several tuners, e.g. "
        "postgresql://user@host/db (default: sqlite:///<output_dir>/study.db).",
    )
    parser.add_argument(
        "--study_name", help="Name of the study in the storage (default: the config's name)."
    )
    parser.add_argument("--seed", type=int, help="Seed of the sampler, for a repeatable search.")
    parser.add_argument(
        "--delete_models",
        action="store_true",
        help="Remove each trial's checkpoints and exports when it ends (keeps its "
        "eval_result.json): a trial of a large model can take hundreds of MB.",
    )
    args = parser.parse_args(argv)
    return cli.run(lambda: _tune(args))


def _tune(args) -> None:
    from easymtl.config import load_config
    from easymtl.errors import EasymtlError
    from easymtl.overrides import parse_json
    from easymtl.tune.report import best_config, to_csv, to_markdown, trial_rows, write_chart
    from easymtl.tune.space import load_search_space
    from easymtl.tune.study import default_direction, open_study, optuna, run_trials
    from easymtl.tune.targets import check_metric

    if args.n_trials < 1:
        raise EasymtlError(f"--n_trials: must be at least 1, got {args.n_trials}")
    config = cli.load(args)
    space = load_search_space(args.search_space, config)
    check_metric(config, args.metric, args.config)
    opt = optuna()
    # The progress lines say what Optuna would log (each failed trial with a traceback);
    # heartbeats and retries are marked experimental, which is noise to a user.
    opt.logging.set_verbosity(opt.logging.ERROR)
    warnings.filterwarnings("ignore", category=opt.exceptions.ExperimentalWarning)
    base_edits = {}
    for source, edits in args.overrides:
        base_edits.update(parse_json(edits, source) if isinstance(edits, str) else edits)
    base_edits.pop("model_dir", None)  # each trial has its own
    os.makedirs(args.output_dir, exist_ok=True)
    storage = args.storage or "sqlite:///" + os.path.abspath(
        os.path.join(args.output_dir, "study.db")
    )
    name = args.study_name or os.path.splitext(os.path.basename(args.config))[0]
    direction = args.direction or default_direction(args.metric)
    study = open_study(storage, name, args.metric, direction, args.seed)
    run_trials(
        study,
        space,
        args.config,
        base_edits,
        args.output_dir,
        args.n_trials,
        progress=lambda line: print(line, flush=True),
        delete_models=args.delete_models,
    )
    header, rows = trial_rows(study)
    table = to_markdown(header, rows)
    print()
    print(table)
    paths = []
    full = to_csv(*trial_rows(study, short=False))
    for file, text in (("trials.csv", full), ("trials.md", table + "\n")):
        paths.append(os.path.join(args.output_dir, file))
        with open(paths[-1], "w", encoding="utf-8") as f:
            f.write(text)
    chart = os.path.join(args.output_dir, "trials.png")
    try:
        write_chart(study, chart)
        paths.append(chart)
    except EasymtlError as e:
        print(f"warning: no chart: {e}", file=sys.stderr)
    best = os.path.join(args.output_dir, "best.config")
    # The best trial's edits hold the flags it ran with, not this run's.
    tuned = load_config(args.config)
    text = best_config(study, tuned, os.path.join(args.output_dir, "best_model"))
    with open(best, "w", encoding="utf-8") as f:
        f.write(text)
    paths.append(best)
    print(f"best: trial {study.best_trial.number}, {args.metric} {study.best_value:.4f}")
    print("wrote " + ", ".join(paths))


if __name__ == "__main__":
    raise SystemExit(main())
