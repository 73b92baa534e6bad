"""python -m easymtl.compare --config X.config [--output_dir D] [--seeds N] [--num_steps S]
[--max_rows R] [--architectures a,b,...]: the MTL-gain table of X's towers.

Prints one line per run, then the table; writes D/table.md, D/table.csv, D/runs.csv and
D/mtl_gain.png (with matplotlib installed: ``pip install 'easymtl[report]'``). D defaults
to ``<model_dir>/compare``.
"""

from __future__ import annotations

import logging
import os
import sys

from easymtl import cli


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser(
        "Train the config's model, the other multi-task architectures that fit its towers "
        "and one single-task model per tower on the same data and budget; tabulate each "
        "tower metric's difference from the single-task model.",
        "easymtl.compare",
    )
    parser.add_argument(
        "--output_dir", help="Where the runs and the table go (default: <model_dir>/compare)."
    )
    parser.add_argument("--seeds", type=int, default=3, help="Runs per architecture.")
    parser.add_argument("--num_steps", type=int, help="Training steps of every run.")
    parser.add_argument(
        "--max_rows", type=int, help="Use only the first R rows of the train and eval input."
    )
    parser.add_argument(
        "--architectures",
        help="Comma-separated architectures to run (default: all that fit), from "
        "single_task, shared_bottom, omoe, mmoe, cgc, ple, esmm and the config's own.",
    )
    parser.add_argument("--title", default="", help="Heading of table.md and the chart.")
    parser.add_argument("--verbose", action="store_true", help="Log every run's training.")
    args = parser.parse_args(argv)
    return cli.run(lambda: _compare(args))


def _compare(args) -> None:
    from easymtl.errors import EasymtlError

    if not args.verbose:
        logging.getLogger("easymtl").setLevel(logging.WARNING)
    config = cli.load(args)
    output_dir = args.output_dir or os.path.join(config.model_dir, "compare")
    cli.import_tensorflow()
    from easymtl.compare import compare, write_report
    from easymtl.compare.chart import write_chart
    from easymtl.compare.table import to_markdown

    only = [a.strip() for a in args.architectures.split(",")] if args.architectures else None
    report = compare(
        config,
        output_dir,
        seeds=args.seeds,
        num_steps=args.num_steps,
        max_rows=args.max_rows,
        only=only,
        progress=lambda line: print(line, flush=True),
    )
    print()
    print(to_markdown(report.table))
    paths = write_report(report, output_dir, args.title)
    chart = os.path.join(output_dir, "mtl_gain.png")
    try:
        write_chart(report.table, chart, args.title)
        paths.append(chart)
    except EasymtlError as e:
        print(f"warning: no chart: {e}", file=sys.stderr)
    if report.undefined:
        left_out = ", ".join(f"{c} of {r} seed {s}" for r, c, s in report.undefined)
        print(f"note: left out as undefined on the eval data (null): {left_out}")
    print("wrote " + ", ".join(paths))
    print(f"report in {output_dir}")


if __name__ == "__main__":
    raise SystemExit(main())
