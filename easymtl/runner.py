"""The runner owns the loop: train, checkpoint, resume, evaluate and summarize.

Estimator style: ``Runner(config).train()`` trains from the latest checkpoint in
model_dir to the configured end; ``evaluate()`` scores the latest checkpoint on the eval
data and writes model_dir/eval_result.json. The ``build_*`` methods are the override
points; callbacks (:mod:`easymtl.callbacks`) run at fixed points of the loop, and
:mod:`easymtl.train_step` holds the step's math.
"""

from __future__ import annotations

import logging
import os
import time
import weakref

import keras
import tensorflow as tf
from google.protobuf import text_format

from easymtl import checkpoints, eval_runs, memory, summary
from easymtl.callbacks import Callback
from easymtl.collapse import collapse_callbacks
from easymtl.data import (
    BAD_ROWS,
    BadRows,
    RowChecks,
    build_dataset,
    check_files,
    expand_paths,
    field_dtype,
)
from easymtl.data.checks import float_fields, no_rows_evaluated, no_rows_trained
from easymtl.disk import write_json, write_text
from easymtl.distribute import cluster
from easymtl.errors import ConfigError, EasymtlError
from easymtl.feature_selection import feature_selection_callbacks
from easymtl.fusion import build_score_evaluation
from easymtl.lifecycle import runs
from easymtl.lifecycle.warm_start import warm_start
from easymtl.metrics import metric_result
from easymtl.metrics.gates import GateStats, gate_results, warn_collapsed
from easymtl.models import build_model, build_model_tasks
from easymtl.optimizers import build_dense_optimizer, build_sparse_optimizer, table_parts
from easymtl.prior_bias import prior_bias_callbacks
from easymtl.protos import train_pb2
from easymtl.run_guard import Interrupted, ModelDirLock, StopOnSignal, UndoOnFailure
from easymtl.tasks import Task, loss_scale_warnings
from easymtl.train_metrics import train_metric_callbacks
from easymtl.train_step import StepResult, TrainStep
from easymtl.weighting import build_loss_weighting, shared_variables

log = logging.getLogger("easymtl")


class Runner:
    """Trains and evaluates the model of a pipeline config in its model_dir.

    Args:
        config: A validated PipelineConfig.
        callbacks: :class:`Callback` objects, called in this order at their points.
    """

    def __init__(self, config, callbacks: list[Callback] | tuple = ()):
        self.cluster = cluster()
        self.config = config
        self.model_dir = config.model_dir
        self.seed = config.train_config.seed
        keras.utils.set_random_seed(self.seed)
        self.tasks: list[Task] = build_model_tasks(config.model_config, config.feature_configs)
        self.model = self.build_model()
        # Before any embedding table is allocated: refuse tables that cannot fit.
        self.check_memory(memory.estimate(config.train_config, self.model.features.tables))
        self.input_names = self.model.used_inputs
        # What evaluation scores beside the tasks: the fused score, if it names labels.
        self.score_eval = build_score_evaluation(config.model_config)
        evaluated = self.tasks + ([self.score_eval] if self.score_eval else [])
        self.label_names = list(dict.fromkeys(c for t in evaluated for c in t.columns))
        self.row_checks = RowChecks.build(
            self.tasks,
            float_fields(config.data_config, self.input_names),
            self.model.features.row_checks(),
        )
        self._build_variables()
        # Each table (the sparse optimizer's, then the wide_optimizer's, if set), and what
        # the gradients are taken of: each table, or its shards.
        tables = self.model.features.tables
        wide = {t for t, _ in self.model.features.wide_embeddings.values()}
        if not config.train_config.HasField("wide_optimizer"):
            wide = set()
        order = [t for t in tables if t not in wide] + [t for t in tables if t in wide]
        self.embedding_tables = [tables[t].embeddings for t in order]
        self.num_wide_tables = len(wide)
        self.embedding_vars = [p for v in self.embedding_tables for p in table_parts(v)]
        embedding_ids = {id(v) for v in self.embedding_tables}
        self.dense_vars = [v for v in self.model.trainable_variables if id(v) not in embedding_ids]
        self.weighting = build_loss_weighting(config.model_config, self.tasks)
        # The weighting's own trainable variables (uncertainty's s_k) learn with the model.
        self.dense_vars += self.weighting.trainable_variables
        # Dense variables that more than one task's loss reaches, where the weighting
        # needs per-task gradients of them (PCGrad, GradNorm); found once, here.
        self.shared_vars = self._shared_vars() if self.weighting.task_gradients else []
        # The variables exist, the optimizer slots not yet: the whole size, checked again.
        self.memory = memory.estimate(
            config.train_config, self.model.features.tables, self.dense_vars
        )
        self.check_memory(self.memory, allocated=self.memory.tables + self.memory.dense)
        self.dense_optimizer = build_dense_optimizer(config.train_config.dense_optimizer)
        self.dense_optimizer.build(self.dense_vars)
        self.sparse_optimizer = build_sparse_optimizer(config.train_config.sparse_optimizer)
        deep, wide_tables = self._table_split()
        self.sparse_optimizer.build(deep)
        self.wide_optimizer = None
        if wide_tables:
            self.wide_optimizer = build_sparse_optimizer(config.train_config.wide_optimizer)
            self.wide_optimizer.build(wide_tables)
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        # Batches skipped for a NaN/Inf loss (nan_loss_policy: SKIP_BATCH).
        self.skipped_batches = tf.Variable(0, dtype=tf.int64, trainable=False, name="skipped")
        # Training rows skipped as bad (data_config.bad_row_policy: SKIP).
        self.bad_rows_skipped = tf.Variable(0, dtype=tf.int64, trainable=False, name="bad_rows")
        self.train_step = self.build_train_step()
        # Stateless weightings add nothing, so their checkpoints are as without one.
        weighting_state = self.weighting.checkpoint_state()
        self.checkpoint = tf.train.Checkpoint(
            model=model_variables(self.model),
            dense_optimizer=self.dense_optimizer,
            sparse_optimizer=self.sparse_optimizer,
            global_step=self.global_step,
            epoch=self.epoch,
            step_in_epoch=self.step_in_epoch,
            skipped_batches=self.skipped_batches,
            bad_rows_skipped=self.bad_rows_skipped,
            **({"loss_weighting": weighting_state} if weighting_state else {}),
            **({"wide_optimizer": self.wide_optimizer} if self.wide_optimizer else {}),
        )
        # The task loss weights of the last train step, for the logs.
        self.loss_weights = tf.Variable(
            self.weighting.weights(self.global_step, self.epoch), trainable=False
        )
        self.train_losses = {t.name: keras.metrics.Mean() for t in self.tasks}
        self.train_losses["total"] = keras.metrics.Mean()
        self.eval_losses = {t.name: keras.metrics.Mean() for t in self.tasks}
        self.eval_losses["total"] = keras.metrics.Mean()
        self.eval_metrics = {t.name: t.make_metrics() for t in self.tasks}
        self.score_metrics = self.score_eval.make_metrics() if self.score_eval else []
        # Per gate of a gated backbone (MMoE, PLE, ...): its experts' mean weights and
        # its entropy on the eval set.
        self.gate_stats = {
            name: GateStats(experts, name=f"gate_{i}")
            for i, (name, experts) in enumerate(self.model.gate_names())
        }
        # (step, {"total": loss, "<tower>": loss}) at every log step of train().
        self.history: list[tuple[int, dict[str, float]]] = []
        # (step, {"<tower>": loss weight of that step}) at every log step of train().
        self.weight_history: list[tuple[int, dict[str, float]]] = []
        self._steps: dict[str, tf.types.experimental.GenericFunction] = {}
        self.callbacks = (
            prior_bias_callbacks(config.train_config)
            + collapse_callbacks(config.train_config)
            + train_metric_callbacks(self.tasks, config.train_config)
            + feature_selection_callbacks(config.model_config)
            + list(callbacks)
        )
        for callback in self.callbacks:
            callback.runner = weakref.proxy(self)
        self._stop_reason: str | None = None
        # The training run (easymtl.lifecycle.runs) of the last train(), and what a warm
        # start from train_config.fine_tune_checkpoint loaded.
        self.run: runs.Run | None = None
        self.warm_start = None

    # ------------------------------------------------------------------ override points

    def build_model(self) -> keras.Model:
        train = self.config.train_config
        return build_model(
            self.config.model_config, self.config.feature_configs, train.mixed_precision
        )

    def check_memory(self, need: memory.Need, allocated: int = 0) -> None:
        """Refuses a model that cannot fit in this process (:func:`memory.check`)."""
        memory.check(need, allocated=allocated)

    def serving_model(self) -> keras.Model:
        """The model that exports write (the trained model itself)."""
        return self.model

    def build_dataset(
        self, training: bool, epoch: int = 0, shard: tuple[int, int] | None = None
    ) -> tf.data.Dataset:
        """The train or eval batches. With several workers, each trains on its shard: a
        share of the files when there are at least as many files as workers, else every
        num_workers-th batch. `shard` is (index, workers) of the training shard wanted,
        by default this worker's."""
        data = self.config.data_config
        source, files, batch_size = self._input(training)
        index, workers = shard or (self.cluster.index, self.cluster.num_workers)
        by_file = training and workers > 1 and len(files) >= workers
        dataset = build_dataset(
            data,
            files[index::workers] if by_file else files,
            self.input_names + self.label_names,
            batch_size,
            training=training,
            seed=self.seed + epoch,
            checks=self.row_checks,
        )
        if training and workers > 1 and not by_file:
            dataset = dataset.shard(workers, index)
        return dataset

    def _table_split(self) -> tuple[list, list]:
        """The tables of the sparse optimizer, and those of the wide_optimizer."""
        k = len(self.embedding_tables) - self.num_wide_tables
        return self.embedding_tables[:k], self.embedding_tables[k:]

    def build_train_step(self) -> TrainStep:
        """The step's losses, gradients, clipping and non-finite check (see
        :class:`TrainStep`); the runner applies its gradients."""
        train = self.config.train_config
        return TrainStep(
            self.model,
            self.tasks,
            self.weighting,
            self.embedding_vars,
            self.dense_vars,
            self.shared_vars,
            self.global_step,
            self.epoch,
            self.cluster,
            clipping_type=train.grad_clipping.clipping_type,
            max_gradient=train.grad_clipping.max_gradient,
            skip_non_finite=train.nan_loss_policy == train_pb2.TrainConfig.SKIP_BATCH,
        )

    def _input(self, training: bool) -> tuple[str, list[str], int]:
        """(config field, files, batch size) of the train or eval input."""
        data = self.config.data_config
        source = "train_input_path" if training else "eval_input_path"
        files = check_files(expand_paths(getattr(self.config, source), source), data, source)
        batch_size = data.batch_size if training else (data.eval_batch_size or data.batch_size)
        return source, files, batch_size

    def _bad_rows(self, training: bool) -> BadRows:
        """Iterates the train or eval batches, stopping at or counting bad rows."""
        data = self.config.data_config
        source, files, _ = self._input(training)
        columns = self.input_names + self.label_names
        return BadRows(
            data,
            files,
            columns,
            self.row_checks,
            source,
            rebuild=lambda fs: build_dataset(
                data, fs, columns, 4096, training=False, checks=self.row_checks
            ),
        )

    # ------------------------------------------------------------------------- steps

    def split(self, batch: dict) -> tuple[dict, dict]:
        """(features, labels) of a batch: the raw input columns the model reads, and the
        label columns its tasks and the fused score's evaluation read."""
        return (
            {k: batch[k] for k in self.input_names},
            {k: batch[k] for k in self.label_names},
        )

    def compiled_step(self, name: str, dataset: tf.data.Dataset):
        """The train (`name` "train") or eval ("eval") step as one tf.function, traced
        once for the dataset's element spec (batch dimension None, so the last, smaller
        batch reuses it).

        Calling the train step on a batch applies its update (unless a loss or gradient
        is NaN or Inf), advances global_step and returns the :class:`StepResult`; it
        neither logs, saves, judges a non-finite step nor calls the callbacks, which
        :meth:`train` does around it.
        """
        if name not in self._steps:
            fn = self._train_step_fn if name == "train" else self._eval_step_fn
            self._steps[name] = tf.function(fn, input_signature=[dataset.element_spec])
        return self._steps[name]

    def _train_step_fn(self, batch) -> StepResult:
        features, labels = self.split(batch)
        step = self.train_step
        grads = self.cluster.run(step.gradients, features, labels)
        n = len(self.embedding_vars)
        sparse_grads, dense_grads = grads.gradients[:n], step.clip(grads.gradients[n:])

        def apply():
            deep, wide = self._table_split()
            k = sum(len(table_parts(v)) for v in deep)
            self.sparse_optimizer.apply(sparse_grads[:k], deep, self.global_step)
            if self.wide_optimizer is not None:
                self.wide_optimizer.apply(sparse_grads[k:], wide, self.global_step)
            self._apply_dense(dense_grads)
            self.weighting.update(grads.task_losses, grads.grad_norms)
            for name, value in grads.losses.items():
                self.train_losses[name].update_state(value)
            self.train_losses["total"].update_state(grads.total)
            return tf.constant(True)

        tf.cond(
            tf.reduce_any(grads.non_finite), lambda: tf.constant(False), lambda: self._update(apply)
        )
        self.loss_weights.assign(grads.weights)
        self.global_step.assign_add(1)
        self.step_in_epoch.assign_add(1)
        examples = tf.shape(labels[self.label_names[0]])[0]
        return StepResult(
            grads.total,
            grads.losses,
            grads.weights,
            grads.non_finite,
            examples,
            labels,
            grads.predictions,
        )

    def _update(self, apply):
        """Runs the train step's update `apply` (where a strategy wants it run)."""
        return apply()

    def _apply_dense(self, grads: list) -> None:
        """Applies the dense gradients with the dense optimizer (in the train step)."""
        self.dense_optimizer.apply(grads, self.dense_vars)

    def _eval_step_fn(self, batch):
        features, labels = self.split(batch)
        outputs = self.model(features, training=False, return_gates=bool(self.gate_stats))
        total, losses = self.train_step.losses(labels, outputs)
        for name, stats in self.gate_stats.items():
            stats.update_state(outputs[f"gate/{name}"])
        for task in self.tasks:
            self.eval_losses[task.name].update_state(losses[task.name])
            task.update_metrics(self.eval_metrics[task.name], labels, outputs)
        self.eval_losses["total"].update_state(total)
        if self.score_eval:
            self.score_eval.update_metrics(self.score_metrics, labels, outputs)

    # ------------------------------------------------------------------- train / eval

    def restore(self, required: bool = False) -> int:
        """Restores the newest readable checkpoint of model_dir (see
        :func:`easymtl.checkpoints.latest_readable`); returns its global step. Without
        one, a training run (not `required`) warm starts from
        train_config.fine_tune_checkpoint if it is set (step 0)."""
        latest = checkpoints.latest_readable(
            self.model_dir, set_aside=not required and self.cluster.is_chief
        )
        self.restored = latest
        if latest is None:
            if required:
                raise EasymtlError(f"model_dir {self.model_dir!r}: no checkpoint to load")
            if self.config.train_config.fine_tune_checkpoint:
                self.warm_start = warm_start(self)
            return 0
        try:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            detail = " ".join(str(e).split())[:300]
            raise EasymtlError(
                f"model_dir {self.model_dir!r}: its checkpoint {os.path.basename(latest)} is "
                f"of a different model than this config ({detail}); use a new model_dir, or "
                "the config the checkpoint was trained with (model_dir/pipeline.config)"
            ) from None
        return int(self.global_step.numpy())

    def train(self, continue_train: bool = False) -> int:
        """Trains from the latest checkpoint to the configured end; returns the step.

        A finished run is trained further on new train_input_path files only with
        `continue_train` (a new run: see :mod:`easymtl.lifecycle.runs`).

        A SIGTERM or SIGINT stops after the current step with a checkpoint saved
        (raising :class:`Interrupted`); a second run on the same model_dir is refused.
        A callback's :meth:`request_stop` ends it early, as its end would.
        """
        train = self.config.train_config
        self._stop_reason = None
        step = self.restore()
        if step:
            log.info("resuming from step %d (%s)", step, self.restored)
        self.run = runs.begin(self, step, continue_train)
        if self.run is None:  # finished
            if self.cluster.is_chief and os.path.isdir(self.model_dir):
                runs.record(self)
            return step
        num_steps, num_epochs = runs.limits(self, self.run)
        start = time.perf_counter()
        if not self.cluster.is_chief:  # only the chief writes to model_dir
            with self.cluster.stop_on_lost_worker():
                step = self._train_loop(step, num_steps, num_epochs, save=None, manager=None)
            reason = self._stop_reason or _limit_reached(step, num_steps, num_epochs)
            log.info(
                "training done at step %d in %.1fs (%s)", step, time.perf_counter() - start, reason
            )
            return step
        with (
            UndoOnFailure(self.model_dir) as undo,
            ModelDirLock(self.model_dir),
            self.cluster.stop_on_lost_worker(),
        ):
            runs.record(self)
            manager = tf.train.CheckpointManager(
                self.checkpoint,
                self.model_dir,
                max_to_keep=train.keep_checkpoint_max or None,
                checkpoint_name="model.ckpt",
            )

            saver = checkpoints.Saver(manager, size_hint=self.memory.total)

            def save(step: int) -> None:
                path = saver.save(step)
                if not undo.kept:
                    # The effective config (overrides applied), so that every run can be
                    # repeated; written with the run's first checkpoint.
                    write_text(
                        os.path.join(self.model_dir, "pipeline.config"),
                        text_format.MessageToString(self.config),
                        "the run's config",
                    )
                    undo.keep()
                for callback in self.callbacks:
                    callback.on_checkpoint(step, path)

            step = self._train_loop(step, num_steps, num_epochs, save, manager)
            runs.finish(self, self.run, step)
        if int(self.bad_rows_skipped.numpy()):
            log.warning(
                "%d bad training rows skipped (data_config.bad_row_policy: SKIP)",
                int(self.bad_rows_skipped.numpy()),
            )
        if int(self.skipped_batches.numpy()):
            log.warning(
                "%d batches skipped for a NaN or Inf loss (nan_loss_policy: SKIP_BATCH)",
                int(self.skipped_batches.numpy()),
            )
        reason = self._stop_reason or _limit_reached(step, num_steps, num_epochs)
        log.info(
            "training done at step %d in %.1fs (%s)", step, time.perf_counter() - start, reason
        )
        return step

    def request_stop(self, reason: str) -> None:
        """Ends training before the next step, with a checkpoint saved and `reason`
        logged (for callbacks: early stopping, a detected collapse). The first reason
        requested is the one kept."""
        if self._stop_reason is None:
            self._stop_reason = reason

    @property
    def stop_reason(self) -> str | None:
        """Why the last :meth:`train` stopped early, if a stop was requested."""
        return self._stop_reason

    def _train_writer(self, writes: bool):
        """The train loop's TensorBoard writer (model_dir/train), or a no-op one where
        TensorBoard is off or this process writes nothing (`writes` false)."""
        if writes and self.config.train_config.use_tensorboard:
            return summary.file_writer(os.path.join(self.model_dir, "train"))
        return tf.summary.create_noop_writer()

    def _train_loop(self, step, num_steps, num_epochs, save, manager) -> int:
        """Steps from `step` to the end, logging, calling the callbacks and calling
        `save(step)` on schedule, on a signal and at the end; returns the last step.
        Without `save` (a worker that is not the chief) nothing is written."""
        train = self.config.train_config
        writer = self._train_writer(save is not None)
        save = save or (lambda step: None)
        saved_step = logged_step = first_step = step
        schedule = checkpoints.SaveSchedule(train, int(self.epoch.numpy()))
        examples, start = 0, time.perf_counter()
        mark = start
        with StopOnSignal() as stop, writer.as_default():
            for callback in self.callbacks:
                callback.before_train(step)
            for batch in self._batches(num_epochs):
                if schedule.epoch_ended(int(self.epoch.numpy())) and step != saved_step:
                    save(step)
                    saved_step = step
                for callback in self.callbacks:
                    callback.before_step(step + 1)
                result = self._steps["train"](batch)
                step += 1
                if not result.applied:
                    last = manager and manager.latest_checkpoint
                    self.train_step.check_finite(result.non_finite.numpy(), step, last)
                    self.skipped_batches.assign_add(1)
                examples += int(batch[self.label_names[0]].shape[0])
                if step == first_step + 1:
                    log.info("first step done in %.1fs", time.perf_counter() - start)
                    first = {k: float(m.result()) for k, m in self.train_losses.items()}
                    for warning in loss_scale_warnings(self.tasks, first):
                        log.warning("%s", warning)
                if step % train.log_step_count_steps == 0:
                    now = time.perf_counter()
                    self._log_train(step, num_steps, examples / (now - mark))
                    examples, mark, logged_step = 0, now, step
                for callback in self.callbacks:
                    callback.after_step(step, result)
                if schedule.after_step(step) or stop.signum:
                    save(step)
                    saved_step = step
                if stop.signum:
                    saved = f"checkpoint saved in {self.model_dir}" if manager else "not saved"
                    raise Interrupted(
                        stop.signum, f"stopped by signal {stop.signum} at step {step}; {saved}"
                    )
                if num_steps is not None and step >= num_steps:
                    break
            if step != logged_step:  # the last step is on the curves too
                self._log_train(step, num_steps, examples / (time.perf_counter() - mark))
            if self._stop_reason is not None:
                log.info("training stopped at step %d: %s", step, self._stop_reason)
            if step != saved_step or step == 0:
                save(step)
            summary.flush(writer)
            for callback in self.callbacks:
                callback.after_train(step)
        return step

    def _batches(self, num_epochs: int | None):
        """Training batches from the saved epoch position on, epoch after epoch; compiles
        the train step for them. Counts skipped bad rows; a batch left empty by them
        advances the epoch position without a step (on every worker). Ends before the
        next batch when a stop is requested on any worker."""
        while num_epochs is None or int(self.epoch.numpy()) < num_epochs:
            dataset = self.build_dataset(True, int(self.epoch.numpy()))
            from_start, stepped = int(self.step_in_epoch.numpy()) == 0, False
            dataset = dataset.skip(int(self.step_in_epoch.numpy()))
            self.compiled_step("train", dataset)
            batches = iter(self._bad_rows(True)(dataset))
            while True:
                batch = next(batches, None)
                rows = 0 if batch is None else batch[self.label_names[0]].shape[0]
                # Workers step together: the epoch ends when any worker's shard does,
                # training when any worker requests a stop.
                more, full, go_on = self.cluster.agree(
                    [batch is not None, rows > 0, self._stop_reason is None]
                )
                if not go_on:  # this batch is read again on resume
                    self.request_stop("stop requested by another worker")
                    return
                if batch is not None and int(batch[BAD_ROWS]):
                    self.bad_rows_skipped.assign_add(int(batch[BAD_ROWS]))
                if not more:
                    break
                if full:
                    stepped = True
                    yield batch
                else:  # every row of some worker's batch skipped as bad: no step
                    self.step_in_epoch.assign_add(1)
            if from_start and not stepped:  # no batch to train on, in any epoch
                raise no_rows_trained(int(self.bad_rows_skipped.numpy()))
            self.epoch.assign_add(1)
            self.step_in_epoch.assign(0)
            log.info(
                "epoch %d done at step %d", int(self.epoch.numpy()), int(self.global_step.numpy())
            )

    def _log_train(self, step: int, num_steps: int | None, speed: float) -> None:
        values = {k: float(m.result()) for k, m in self.train_losses.items()}
        for m in self.train_losses.values():
            m.reset_state()
        self.history.append((step, values))
        for name, value in values.items():
            if name:  # a single-task ranker's task ("") has the total as its loss
                summary.scalar("loss" if name == "total" else f"loss/{name}", value, step)
        summary.scalar("examples_per_sec", speed, step)
        weights = dict(zip((t.name for t in self.tasks), self.loss_weights.numpy().tolist()))
        for name, weight in weights.items():
            if name:
                summary.scalar(f"loss_weight/{name}", weight, step)
        self.weight_history.append((step, weights))
        towers = "  ".join(f"loss_{k} {v:.4f}" for k, v in values.items() if k not in ("total", ""))
        if self.config.model_config.HasField("loss_weighting"):
            towers += "".join(f"  weight_{k} {w:.4f}" for k, w in weights.items())
        where = next((p for c in self.callbacks if (p := c.progress(step)) is not None), None)
        log.info(
            "step %s  loss %.4f  %s  %.0f examples/sec",
            where or (f"{step}/{num_steps}" if num_steps else str(step)),
            values["total"],
            towers,
            speed,
        )

    def evaluate(self, restore: bool = True) -> dict:
        """Evaluates the latest checkpoint on eval_input_path; writes eval_result.json.

        Args:
            restore: Load the latest checkpoint first; False evaluates the variables as
                they are (an evaluation during training, or of a checkpoint the caller
                restored).
        """
        step = self.restore(required=True) if restore else int(self.global_step.numpy())
        for metric in (
            list(self.eval_losses.values())
            + self.score_metrics
            + list(self.gate_stats.values())
            + [m for ms in self.eval_metrics.values() for m in ms]
        ):
            metric.reset_state()
        limit = self.config.eval_config.num_steps or None
        for callback in self.callbacks:
            callback.before_evaluate(step)
        start, examples = time.perf_counter(), 0
        dataset = self.build_dataset(False)
        eval_step = self.compiled_step("eval", dataset)
        bad_rows = self._bad_rows(False)
        for i, batch in enumerate(bad_rows(dataset)):
            if limit is not None and i >= limit:
                break
            rows = int(batch[self.label_names[0]].shape[0])
            if rows:
                eval_step(batch)
            examples += rows
            for callback in self.callbacks:
                callback.after_eval_step(i, rows)
        if not examples:
            raise no_rows_evaluated(bad_rows.skipped)
        seconds = time.perf_counter() - start
        results = {"global_step": step}
        for task in self.tasks:
            for metric in self.eval_metrics[task.name]:
                results[metric.name] = metric_result(metric, task.name, task.label_name)
            results[task.loss_name] = float(self.eval_losses[task.name].result())
        results["loss"] = float(self.eval_losses["total"].result())
        score_labels = self.score_eval.label_names if self.score_eval else []
        for metric, label in zip(self.score_metrics, score_labels):
            results[metric.name] = metric_result(metric, "fused score", label)
        for name, stats in self.gate_stats.items():
            results.update(gate_results(name, stats))
        results["num_examples"] = examples
        results["bad_rows_skipped"] = bad_rows.skipped
        results["train_bad_rows_skipped"] = int(self.bad_rows_skipped.numpy())
        if bad_rows.skipped:
            log.warning(
                "%d bad eval rows skipped (data_config.bad_row_policy: SKIP)", bad_rows.skipped
            )
        log.info(
            "eval at step %d on %d examples (%.0f examples/sec): %s",
            step,
            examples,
            examples / max(seconds, 1e-9),
            "  ".join(
                f"{k} {'n/a' if v is None else f'{v:.4f}'}"
                for k, v in results.items()
                if (v is None or isinstance(v, float)) and not k.startswith("gate/")
            ),
        )
        for name in self.gate_stats:
            log.info(
                "gate %s: %s",
                name,
                "  ".join(
                    f"{k.rsplit('/', 1)[1]} {v:.3f}"
                    for k, v in results.items()
                    if k.startswith(f"gate/{name}/")
                ),
            )
        warn_collapsed(self.gate_stats)
        self._write_eval(results, step)
        for callback in self.callbacks:
            callback.after_evaluate(step, results)
        return results

    def _write_eval(self, results: dict, step: int) -> None:
        os.makedirs(self.model_dir, exist_ok=True)
        path = os.path.join(self.model_dir, "eval_result.json")
        write_json(path, results, "evaluation results")
        if not self.config.train_config.use_tensorboard:
            return
        # Eval losses under the train run's tags (loss/<tower>), so that the curves overlay.
        tags = {t.loss_name: f"loss/{t.name}" for t in self.tasks if t.name}
        values = {tags.get(k, k): v for k, v in results.items() if isinstance(v, float)}
        logdir = eval_runs.eval_logdir(self.model_dir, self.config.eval_input_path)
        eval_runs.write_eval(logdir, values, step)

    # ---------------------------------------------------------------------- helpers

    def serving_specs(self) -> dict[str, tf.TensorSpec]:
        """One TensorSpec per raw input field the model reads: [batch], or
        [batch, list length] for a list (ARRAY_*) field."""
        from easymtl.data.csv import field_shape

        fields = {f.input_name: f for f in self.config.data_config.input_fields}
        return {
            name: tf.TensorSpec(field_shape(fields[name]), field_dtype(fields[name]), name=name)
            for name in self.input_names
        }

    def _build_variables(self) -> None:
        """Creates every model variable by calling the model on one empty-valued row."""
        self.model(self._dummy_inputs(), training=False)

    def _dummy_inputs(self) -> dict[str, tf.Tensor]:
        """One empty-valued row of the raw input columns."""
        fields = {f.input_name: f for f in self.config.data_config.input_fields}
        dummy = {}
        for name in self.input_names:
            dtype = field_dtype(fields[name])
            dummy[name] = tf.constant([""]) if dtype == tf.string else tf.zeros([1], dtype)
        return dummy

    def _shared_vars(self) -> list:
        """The dense variables that more than one task's loss reaches.

        Raises:
            ConfigError: there are none (the towers share only embeddings), so the
                loss weighting has nothing to balance.
        """
        labels = {name: tf.zeros([1]) for name in self.label_names}
        shared = shared_variables(
            self.model, self.tasks, self._dummy_inputs(), labels, self.dense_vars
        )
        if not shared:
            kind = self.config.model_config.loss_weighting.WhichOneof("strategy")
            raise ConfigError(
                f"model_config.loss_weighting.{kind}",
                "no dense parameter is shared by two tasks (the towers share only the "
                "embeddings); use a model with a shared part, e.g. mmoe or shared_bottom",
            )
        return shared


def _limit_reached(step: int, num_steps: int | None, num_epochs: int | None) -> str:
    """Which limit of train_config ended training at `step`."""
    if num_steps is not None and step >= num_steps:
        return f"train_config.num_steps {num_steps} reached"
    before = f" before train_config.num_steps {num_steps}" if num_steps is not None else ""
    return f"train_config.num_epochs {num_epochs} done{before}"


def model_variables(model: keras.Model) -> dict[str, tf.Variable]:
    """The model's variables by Keras path, for tf.train.Checkpoint.

    Keras 3 models are not checkpointable objects themselves; keying by path (tower and
    layer names, not positions) keeps checkpoints valid when towers are reordered.
    """
    # A table sharded over parameter servers is saved as its ShardedVariable, which
    # writes each shard as a slice of the whole table: checkpoints are alike whatever
    # the number of shards (none included), and each ps writes its own shards.
    variables = {v.path: _saved(v) for v in model.variables}
    if len(variables) != len(model.variables):
        raise ValueError("Two model variables share a path; give their layers unique names.")
    return variables


def _saved(variable):
    """What a checkpoint holds of a Keras variable: itself, or its sharded value."""
    if isinstance(variable.value, tf.__internal__.distribute.ShardedVariable):
        return variable.value
    return variable
