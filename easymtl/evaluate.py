"""python -m easymtl.evaluate --config X.config [--checkpoint_path P] [--continuous]:
evaluates the latest (or a given) checkpoint, or, with --continuous, each new checkpoint
of model_dir as training writes it (an estimator's evaluator)."""

from __future__ import annotations

from easymtl import cli


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser("Evaluate a model_dir's checkpoints on eval_input_path.")
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

    # The config and flags first, which load no TensorFlow: a mistake there is one line.
    config = cli.load(args)
    if not config.eval_input_path:
        raise EasymtlError(f"{args.config}: eval_input_path: needed to evaluate")
    if args.continuous and args.checkpoint_path:
        raise EasymtlError("--checkpoint_path and --continuous: give one of them")
    cli.import_tensorflow()
    from easymtl import lifecycle
    from easymtl.data import check_files, expand_paths
    from easymtl.lifecycle.continuous import ContinuousEvaluator
    from easymtl.run_guard import EvaluationLock
    from easymtl.runner import Runner

    source = f"{args.config}: eval_input_path"
    check_files(expand_paths(config.eval_input_path, source), config.data_config, source)
    continuous = args.continuous
    runner = Runner(
        config, callbacks=lifecycle.callbacks(config, training=False, exports=continuous)
    )
    evaluator = ContinuousEvaluator(runner, args.interval_secs, args.timeout_secs)
    if args.continuous:
        evaluator.run()
    elif args.checkpoint_path:
        evaluator.evaluate(args.checkpoint_path)
    else:
        runner.restore(required=True)
        with EvaluationLock(config.model_dir):  # a trainer's evaluations take turns with it
            runner.evaluate(restore=False)


if __name__ == "__main__":
    raise SystemExit(main())
