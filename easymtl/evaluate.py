"""python -m easymtl.evaluate --config X.config [--checkpoint_path P] [--continuous]:
evaluates the latest (or a given) checkpoint, or, with --continuous, each new checkpoint
of model_dir as training writes it (an estimator's evaluator)."""

from __future__ import annotations

import time

from easymtl import cli


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser(
        "Evaluate a model_dir's checkpoints on eval_input_path.", "easymtl.evaluate"
    )
    parser.add_argument(
        "--checkpoint_path", help="Evaluate this checkpoint. Default: model_dir's latest."
    )
    parser.add_argument(
        "--continuous",
        action="store_true",
        help="Evaluate each new checkpoint of model_dir as it appears, until the training "
        "run is finished and its last checkpoint evaluated (or --timeout_secs pass "
        "without a new one). Each result goes to eval_result.json, model_dir/eval/ "
        "(TensorBoard) and eval_history.jsonl; exporter_type latest or best exports. Beside "
        "a trainer on the same model_dir, the two take turns: a checkpoint is evaluated "
        "once, by whichever gets to it first.",
    )
    parser.add_argument(
        "--interval_secs",
        type=float,
        default=10.0,
        help="--continuous: seconds between looks for a new checkpoint (default 10).",
    )
    parser.add_argument(
        "--timeout_secs",
        type=float,
        default=3600.0,
        help="--continuous: stop after this many seconds without a new checkpoint "
        "(default 3600; 0 waits for ever).",
    )
    args = parser.parse_args(argv)
    return cli.run(lambda: _evaluate(args))


def _evaluate(args) -> None:
    from easymtl.errors import EasymtlError
    from easymtl.run_log import RunLog

    # The config and flags first, which load no TensorFlow: a mistake there is one line.
    config = cli.load(args)
    if not config.eval_input_path:
        raise EasymtlError(f"{args.config}: eval_input_path: needed to evaluate")
    if args.continuous and args.checkpoint_path:
        raise EasymtlError("--checkpoint_path and --continuous: give one of them")
    # The evaluator's own log: it may run beside training, which keeps train.log.
    with RunLog(config.model_dir, "evaluate.log", args.command) as run_log:
        _run(args, config, run_log)


def _run(args, config, run_log) -> None:
    started = time.time()
    cli.import_tensorflow()
    from easymtl import lifecycle, outputs
    from easymtl.data import check_files, expand_paths
    from easymtl.lifecycle.continuous import ContinuousEvaluator
    from easymtl.progress import Progress
    from easymtl.report import write_report
    from easymtl.run_guard import EvaluationLock
    from easymtl.runner import Runner

    source = f"{args.config}: eval_input_path"
    check_files(expand_paths(config.eval_input_path, source), config.data_config, source)
    continuous = args.continuous
    callbacks = lifecycle.callbacks(config, training=False, exports=continuous)
    runner = Runner(config, callbacks=callbacks + [Progress(), run_log])
    evaluator = ContinuousEvaluator(runner, args.interval_secs, args.timeout_secs)
    if args.continuous:
        evaluator.run()
    elif args.checkpoint_path:
        evaluator.evaluate(args.checkpoint_path)
    else:
        runner.restore(required=True)
        with EvaluationLock(config.model_dir):  # a trainer's evaluations take turns with it
            runner.evaluate(restore=False)
    with EvaluationLock(config.model_dir):  # the report reads what evaluations write
        write_report(config.model_dir)
    outputs.log_outputs(config.model_dir, started, run_log.path)


if __name__ == "__main__":
    raise SystemExit(main())
