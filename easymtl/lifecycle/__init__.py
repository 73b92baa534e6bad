"""A model's life after its first run: warm start, continued (daily) runs, evaluation
while training, best export and retention, early stopping.

Each is a module here; the evaluation-time parts are :class:`easymtl.callbacks.Callback`
objects on the runner's hooks, which :func:`callbacks` builds from the config and
:func:`after_training` finishes (the CLIs call both). Warm start and runs are
restore-time logic that :class:`easymtl.runner.Runner` calls itself.
"""

from __future__ import annotations

import logging

from easymtl.errors import ConfigError

log = logging.getLogger("easymtl")

EXPORTER_TYPES = ("latest", "best", "final", "none")


def check_config(config) -> None:
    """Validates the lifecycle fields of a pipeline config.

    Raises:
        ConfigError: an exporter type, metric or interval is not usable.
    """
    from easymtl.export.options import check_export_options

    export = config.export_config
    check_export_options(export)
    if export.exporter_type not in EXPORTER_TYPES:
        raise ConfigError(
            "export_config.exporter_type",
            f"{export.exporter_type!r} is not an exporter type; expected one of "
            + ", ".join(EXPORTER_TYPES),
        )
    needs_metric = export.exporter_type == "best" or export.enable_early_stop
    if needs_metric:
        what = "exporter_type: best" if export.exporter_type == "best" else "enable_early_stop"
        if not config.eval_input_path:
            raise ConfigError("eval_input_path", f"export_config.{what} needs evaluations")
        known = result_names(config.model_config)
        if not export.HasField("best_exporter_metric"):
            raise ConfigError(
                "export_config.best_exporter_metric",
                f"needed by export_config.{what}; expected one of {', '.join(known)} or a "
                "weighted sum such as '0.5 * auc_ctr + 0.5 * auc_cvr'",
            )
        metric = best_metric(export)
        for name in metric.names:
            if name not in known:
                raise ConfigError(
                    "export_config.best_exporter_metric",
                    f"{name!r} is not an evaluation result of this model; expected one of "
                    + ", ".join(known),
                )
    interval = config.eval_config.eval_interval_steps
    save = config.train_config.save_checkpoints_steps
    if interval and not save:
        raise ConfigError(
            "eval_config.eval_interval_steps",
            f"{interval} needs checkpoints during training; train_config."
            "save_checkpoints_steps is 0 (a checkpoint at the end only)",
        )
    if interval and interval % save:
        raise ConfigError(
            "eval_config.eval_interval_steps",
            f"{interval} is not a multiple of train_config.save_checkpoints_steps ({save}); "
            "evaluations run on saved checkpoints",
        )


def result_names(model_config) -> list[str]:
    """The numeric eval_result.json keys a model's evaluation has: each tower's metrics
    and loss, the total loss and the fused score's AUCs (without TensorFlow)."""
    from easymtl.fusion import SCORE
    from easymtl.models import result_names as tower_results

    names = tower_results(model_config) + ["loss"]
    if model_config.HasField("fusion"):
        names += [f"auc_{SCORE}_{label}" for label in model_config.fusion.label_names]
    return names


def best_metric(export_config):
    from easymtl.lifecycle.metric import BestMetric

    return BestMetric(export_config.best_exporter_metric, export_config.metric_larger_is_better)


def callbacks(config, training: bool = True, exports: bool = True) -> list:
    """The lifecycle callbacks of `config`, in their order: the training rows read once
    before the first step (when `training`, see :mod:`~easymtl.lifecycle.input_check`);
    evaluation during training (when `training`); the exporter of exporter_type best
    (always: the best export follows the history, whoever evaluates) or latest (when
    `exports`: in training, and in a continuous evaluator); the eval history, always;
    early stopping (when `training`), which reads the history."""
    from easymtl.lifecycle.best_export import BestExport, LatestExport
    from easymtl.lifecycle.early_stop import EarlyStop
    from easymtl.lifecycle.history import EvalHistory
    from easymtl.lifecycle.input_check import InputCheck
    from easymtl.lifecycle.periodic_eval import PeriodicEval

    export = config.export_config
    found = []
    if training and config.data_config.check_rows_before_training:
        found.append(InputCheck())
    if training and config.eval_input_path:
        found.append(PeriodicEval(config.eval_config.eval_interval_steps))
    if export.exporter_type == "best":
        found.append(BestExport(config, best_metric(export), export.exports_to_keep))
    elif exports and export.exporter_type == "latest" and export.export_after_train:
        found.append(LatestExport(config.model_dir, export.exports_to_keep))
    # The history line is an evaluation's last record, after its export: a kill before
    # it leaves the step unevaluated, and the restart evaluates (and exports) it again.
    found.append(EvalHistory(config))
    if training and export.enable_early_stop:
        found.append(
            EarlyStop(
                config, best_metric(export), export.max_check_steps, export.early_stop_patience
            )
        )
    return found


def after_training(runner, step: int) -> None:
    """What follows train() on the chief, in the model_dir's evaluation turn: the final
    evaluation (unless a step as new is evaluated already) and the final export of
    exporter_type latest or final (unless model_dir/export holds this checkpoint)."""
    from easymtl.export.info import export_info, exported
    from easymtl.lifecycle.best_export import LatestExport, export_base
    from easymtl.lifecycle.owner import evaluate_new
    from easymtl.lifecycle.periodic_eval import PeriodicEval
    from easymtl.run_guard import EvaluationLock

    config = runner.config
    by_type = {type(c): c for c in runner.callbacks}
    periodic = by_type.get(PeriodicEval)
    with EvaluationLock(config.model_dir):
        if config.eval_input_path:
            if periodic is None:
                evaluate_new(runner, step, runner.evaluate)
            else:
                periodic.evaluate(step)
        export = config.export_config
        if not export.export_after_train:
            return
        latest = by_type.get(LatestExport)
        if latest is not None and latest.exported_step != step:
            latest.export(step)  # no evaluation at this step: exported all the same
        elif export.exporter_type == "final":
            from easymtl.export import export_saved_model, timestamped_dir

            done = exported(export_base(config.model_dir), step)
            if done is not None:
                log.info("step %d is exported already (%s); not exported again", step, done)
                return
            export_saved_model(
                runner.serving_model(),
                runner.serving_specs(),
                timestamped_dir(config.model_dir),
                config,
                export_info(step),
            )
