"""python -m easymtl.train --config X.config [--continue_train] [--eval_only]: train,
evaluate and export."""

from __future__ import annotations

import time

from easymtl import cli


def main(argv: list[str] | None = None) -> int:
    parser = cli.parser(
        "Train (resuming from model_dir), evaluate and export a model.", "easymtl.train"
    )
    parser.add_argument(
        "--eval_only", action="store_true", help="Only evaluate the latest checkpoint."
    )
    parser.add_argument(
        "--continue_train",
        action="store_true",
        help="Train a model_dir whose run is finished further, on a new train_input_path "
        "(incremental training: a new run from its latest checkpoint). An unfinished run "
        "resumes with or without it.",
    )
    args = parser.parse_args(argv)
    return cli.run(lambda: _train(args))


def _train(args) -> None:
    from easymtl.errors import EasymtlError
    from easymtl.run_log import RunLog

    # First the config and flags, which load no TensorFlow: a mistake there is one line.
    config = cli.load(args)
    if args.eval_only and not config.eval_input_path:
        raise EasymtlError(f"{args.config}: eval_input_path: needed by --eval_only")
    with RunLog(config.model_dir, "train.log", args.command) as run_log:
        _run(args, config, run_log)


def _run(args, config, run_log) -> None:
    started = time.time()
    cli.import_tensorflow()
    from easymtl.distribute import cluster

    # With TF_CONFIG, collectives must be set up before TensorFlow runs any op.
    workers = cluster()
    if workers.ps is not None and not workers.ps.is_coordinator:
        workers.ps.serve(config.model_dir)  # a worker or ps task: the chief drives it
        return
    from easymtl import lifecycle, outputs
    from easymtl.data import check_files, expand_paths
    from easymtl.progress import Progress
    from easymtl.report import write_report

    if workers.ps is not None:
        from easymtl.ps.runner import PSRunner as Runner
    else:
        from easymtl.runner import Runner

    # Every input must exist before anything is written to model_dir.
    data = config.data_config
    if not args.eval_only:
        source = f"{args.config}: train_input_path"
        check_files(expand_paths(config.train_input_path, source), data, source)
    if config.eval_input_path:
        source = f"{args.config}: eval_input_path"
        check_files(expand_paths(config.eval_input_path, source), data, source)
    watch = [Progress(), run_log]  # where the run is; model_dir/train.log
    if args.eval_only:
        from easymtl.run_guard import EvaluationLock

        callbacks = lifecycle.callbacks(config, False, exports=False) + watch
        runner = Runner(config, callbacks=callbacks)
        runner.restore(required=True)
        with EvaluationLock(config.model_dir):  # a trainer's evaluations take turns with it
            runner.evaluate(restore=False)
            if workers.is_chief:
                write_report(config.model_dir)
        if workers.is_chief:
            outputs.log_outputs(config.model_dir, started, run_log.path)
        if workers.ps is not None:
            workers.ps.release(config.model_dir)
        return
    runner = Runner(config, callbacks=lifecycle.callbacks(config) + watch)
    step = runner.train(continue_train=args.continue_train)
    if workers.is_chief:  # the chief evaluates and exports
        from easymtl.run_guard import EvaluationLock

        lifecycle.after_training(runner, step)
        with EvaluationLock(config.model_dir):  # the report reads what evaluations write
            write_report(config.model_dir)
        run_log.open()  # the run is done: its log is kept even where it wrote nothing new
        outputs.log_outputs(config.model_dir, started, run_log.path)
    # Every task ends together: a worker that exits while the chief still works is
    # reported by the chief as crashed.
    workers.wait_for_all()
    if workers.ps is not None:
        workers.ps.release(config.model_dir)


if __name__ == "__main__":
    raise SystemExit(main())
