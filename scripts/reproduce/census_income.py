"""The MMoE paper's real-data experiment (Ma et al., KDD 2018, section 5) on UCI
Census-Income (KDD), through ``easymtl.compare``.

Task group 1: income > 50K and marital status never married; group 2: education at least
college and marital status never married (samples/configs/census_group{1,2}_mmoe.config,
which derive the labels from the UCI files' string columns). For each group the compare
report trains single-task models, Shared-Bottom, OMoE, MMoE, CGC, PLE and DBMTL on the
same features and budget over several seeds and writes its table and chart under
output_dir/group<g>.

    python scripts/reproduce/census_income.py --data_dir DIR --output_dir runs/census_income

DIR holds the UCI train and test files: census-income.data and census-income.test, plain
or gzipped (.gz, .csv.gz). Default size: 2 seeds of 400 steps (batch 512, about one
epoch) per model, the whole test set for evaluation (about 35 minutes on 2 CPU cores).
The figures of docs/reproductions.md: --seeds 5. Larger: --seeds 5 --num_steps 2000.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARCHITECTURES = "single_task,shared_bottom,omoe,mmoe,cgc,ple,dbmtl"
TITLES = {
    1: "Census-income group 1: income > 50K, marital status never married",
    2: "Census-income group 2: education at least college, marital status never married",
}


def find_file(data_dir: str, stem: str) -> str:
    """The UCI file `stem` (census-income.data or .test) in `data_dir`, plain or gzipped.

    Raises:
        EasymtlError: no such file.
    """
    from easymtl.errors import EasymtlError

    for suffix in ("", ".gz", ".csv", ".csv.gz"):
        path = os.path.join(data_dir, stem + suffix)
        if os.path.isfile(path):
            return path
    found = ", ".join(sorted(os.path.basename(p) for p in glob.glob(os.path.join(data_dir, "*"))))
    raise EasymtlError(
        f"--data_dir {data_dir}: no {stem}[.gz] (the UCI Census-Income (KDD) file); "
        f"found: {found or 'nothing'}"
    )


def run(args) -> None:
    from easymtl.compare import compare, write_report
    from easymtl.compare.chart import write_chart
    from easymtl.compare.table import to_markdown
    from easymtl.config import load_config
    from easymtl.errors import EasymtlError

    paths = {
        "train_input_path": find_file(args.data_dir, "census-income.data"),
        "eval_input_path": find_file(args.data_dir, "census-income.test"),
    }
    for group in args.groups:
        config_path = os.path.join(ROOT, "samples", "configs", f"census_group{group}_mmoe.config")
        config = load_config(config_path, [("--data_dir", paths)])
        out = os.path.join(args.output_dir, f"group{group}")
        print(f"== {TITLES[group]}", flush=True)
        report = compare(
            config,
            out,
            seeds=args.seeds,
            num_steps=args.num_steps,
            max_rows=args.max_rows,
            only=args.architectures.split(","),
            progress=lambda line: print(line, flush=True),
        )
        print()
        print(to_markdown(report.table))
        written = write_report(report, out, TITLES[group])
        try:
            write_chart(report.table, os.path.join(out, "mtl_gain.png"), TITLES[group])
            written.append(os.path.join(out, "mtl_gain.png"))
        except EasymtlError as e:
            print(f"warning: no chart: {e}", file=sys.stderr)
        print("wrote " + ", ".join(written), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", required=True, help="Holds census-income.data/.test.")
    parser.add_argument("--output_dir", default="runs/census_income")
    parser.add_argument("--groups", type=int, nargs="+", choices=[1, 2], default=[1, 2])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--num_steps", type=int, default=400)
    parser.add_argument("--max_rows", type=int, help="Use only the first R train/test rows.")
    parser.add_argument("--architectures", default=ARCHITECTURES)
    args = parser.parse_args(argv)
    from easymtl import cli

    def job():
        # One progress line per run, not every run's training log.
        logging.getLogger("easymtl").setLevel(logging.WARNING)
        run(args)

    return cli.run(job)


if __name__ == "__main__":
    raise SystemExit(main())
