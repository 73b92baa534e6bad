"""python -m easymtl.export --config X.config [--export_dir D]: exports the latest
checkpoint of the config's model_dir as a SavedModel."""

from __future__ import annotations

import os

from easymtl import cli


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("Export the latest checkpoint as a SavedModel.", "easymtl.export")
    parser.add_argument(
        "--export_dir",
        help="Where to write the SavedModel (must not exist or be empty). "
        "Default: model_dir/export/<timestamp>.",
    )
    args = parser.parse_args(argv)
    return cli.run(lambda: _export(args))


def _export(args) -> None:
    from easymtl.errors import EasymtlError

    config = cli.load(args)
    if (
        args.export_dir
        and os.path.exists(args.export_dir)
        and (not os.path.isdir(args.export_dir) or os.listdir(args.export_dir))
    ):
        raise EasymtlError(f"--export_dir {args.export_dir!r}: exists and is not empty")
    cli.import_tensorflow()
    from easymtl.export import export_saved_model, timestamped_dir
    from easymtl.export.info import export_info
    from easymtl.run_guard import EvaluationLock
    from easymtl.runner import Runner

    runner = Runner(config)
    step = runner.restore(required=True)
    # In the model_dir's turn: a trainer's exporter may be rotating model_dir/export.
    with EvaluationLock(config.model_dir):
        path = args.export_dir or timestamped_dir(config.model_dir)
        export_saved_model(runner.model, runner.serving_specs(), path, config, export_info(step))
    print(f"exported to {path}")


if __name__ == "__main__":
    raise SystemExit(main())
