"""The runner of parameter-server training: the chief schedules asynchronous steps.

:class:`PSRunner` is the :class:`~easymtl.runner.Runner` of a chief whose ``TF_CONFIG``
has ``ps`` tasks. Its variables live on the ps tasks: the dense weights whole (round
robin), each embedding table split by rows into shards (see
:class:`~easymtl.ps.cluster.TablePartitioner`). Each step runs on one worker, on that
worker's shard of the training data (a share of the files, or every n-th batch, as
data-parallel training shards it): it gathers the rows its batch needs from the shards,
computes the gradients, and sends back the dense update and the touched rows' updates,
which the row-wise sparse optimizer applies on the ps that holds them. Workers do not
wait for each other (asynchronous training), so a step's gradient is its own batch's:
loss weightings that combine per-task gradients (PCGrad, GradNorm) combine that batch's,
as in a single process with that batch size.

The chief saves checkpoints (each ps writes its own shards), evaluates (reading the
variables where they are) and exports a copy of the model with whole tables.
"""

from __future__ import annotations

import logging
import time

import keras
import tensorflow as tf

from easymtl import summary
from easymtl.data import BAD_ROWS
from easymtl.distribute import cluster
from easymtl.errors import ConfigError, EasymtlError
from easymtl.models import build_model
from easymtl.optimizers import table_parts
from easymtl.protos import data_pb2
from easymtl.run_guard import Interrupted, StopOnSignal
from easymtl.runner import Runner
from easymtl.tasks import loss_scale_warnings
from easymtl.train_step import StepResult

log = logging.getLogger("easymtl")

# What joining the scheduled steps raises when a ps task is lost.
_LOST = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError)


class PSRunner(Runner):
    """Trains with the parameter servers of ``TF_CONFIG`` (on the chief).

    Args:
        config: A validated PipelineConfig.
        callbacks: As :class:`~easymtl.runner.Runner`'s.

    Raises:
        ConfigError: the input cannot be read on the workers (ParquetDataset).
    """

    def __init__(self, config, callbacks=()):
        self.ps = cluster().ps
        if config.data_config.dataset_type == data_pb2.ParquetDataset:
            raise ConfigError(
                "data_config.dataset_type",
                "ParquetDataset cannot be read by parameter-server workers (its reader "
                "runs Python on the chief); use CsvDataset, or TF_CONFIG without 'ps' "
                "tasks (synchronous multi-worker training)",
            )
        with self.ps.strategy.scope():
            super().__init__(config, callbacks)
        self._skip_bad = config.data_config.bad_row_policy == data_pb2.DataConfig.SKIP
        self._scheduled = None

    # ------------------------------------------------------------------ placement

    def _build_variables(self) -> None:
        """Makes each embedding table sharded over the ps tasks, then the rest (by
        tracing the model: run here, eagerly, a lookup of a sharded table would copy it
        to the chief)."""
        features = self.model.features
        with keras.name_scope(self.model.name), keras.name_scope(features.name):
            for table in features.tables.values():
                with self.ps.sharding(table.num_rows, table.dim, table.initializer):
                    table.build()
        build = tf.function(lambda inputs: self.model(inputs, training=False))
        build.get_concrete_function(self._dummy_inputs())
        for name, table in features.tables.items():
            shards = table_parts(table.embeddings)
            log.info(
                "table %s (%d x %d): %s",
                name,
                table.num_rows,
                table.dim,
                ", ".join(f"{v.shape[0]} rows on {_task(v)}" for v in shards),
            )

    def _shared_vars(self) -> list:
        """As the Runner finds them, but by tracing the model (see _build_variables)."""
        found = []

        def probe():
            found.extend(Runner._shared_vars(self))
            return tf.constant(0)

        tf.function(probe).get_concrete_function()
        return found

    def check_memory(self, need, allocated: int = 0) -> None:
        """The chief holds no parameter: each ps holds about 1/num_ps of them."""
        del allocated
        if need.dense is None:  # the first estimate, before the dense weights exist
            return
        log.info(
            "memory: the parameters take about %.1f MiB on each of the %d ps tasks (%s)",
            need.total / self.ps.num_ps / 2**20,
            self.ps.num_ps,
            need.parts(),
        )

    def serving_model(self) -> keras.Model:
        """A copy of the model in this process, its tables whole, for export."""
        model = build_model(
            self.config.model_config,
            self.config.feature_configs,
            self.config.train_config.mixed_precision,
        )
        model(self._dummy_inputs(), training=False)
        trained = {v.path: v for v in self.model.variables}
        for variable in model.variables:
            variable.assign(tf.convert_to_tensor(trained[variable.path].value))
        return model

    # ----------------------------------------------------------------------- steps

    def _worker_step(self, batch):
        """One step on a worker's batch: (its StepResult, its bad rows). A batch that
        bad rows left empty, or that holds bad rows under bad_row_policy STOP, trains
        nothing."""
        bad = batch.pop(BAD_ROWS, tf.constant(0, tf.int64))
        rows = tf.shape(batch[self.label_names[0]])[0]
        if self._skip_bad:
            self.bad_rows_skipped.assign_add(bad)
            trains = rows > 0
        else:
            trains = (rows > 0) & (bad == 0)

        def idle():
            self.step_in_epoch.assign_add(1)
            return StepResult(
                tf.constant(0.0),
                {t.name: tf.constant(0.0) for t in self.tasks},
                tf.identity(self.loss_weights),
                tf.zeros([len(self.tasks) + 1], tf.bool),
                tf.constant(0, tf.int32),
                self.split(batch)[1],
                self.train_step.no_predictions(rows),
            )

        return tf.cond(trains, lambda: self._train_step_fn(batch), idle), bad

    def _update(self, apply):
        """Runs the step's update in a replica context of the strategy, where a Keras
        optimizer (the dense one, GradNorm's) expects to run under a tf.distribute
        strategy; the step's conditional is outside it, as merge_call requires."""
        return self.ps.strategy.run(apply)

    def _apply_dense(self, grads: list) -> None:
        """Applies the dense gradients, first placed on the worker's device (the
        optimizer's all-reduce needs a device; they were computed outside the replica)."""
        self.dense_optimizer.apply([tf.identity(g) for g in grads], self.dense_vars)

    def _worker_batches(self, epoch: int, skip: int):
        """An iterator of each worker's own batches of `epoch`, `skip` batches in."""
        n = self.ps.num_workers

        @tf.autograph.experimental.do_not_convert  # it builds the pipeline in Python
        def dataset_fn():
            shards = [self.build_dataset(True, epoch, shard=(i, n)).skip(skip) for i in range(n)]
            if n == 1:
                return shards[0]
            index = tf.distribute.coordinator.experimental_get_current_worker_index()
            choice = tf.data.Dataset.from_tensors(tf.cast(index, tf.int64)).repeat()
            return tf.data.Dataset.choose_from_datasets(shards, choice, stop_on_empty_dataset=True)

        return iter(self.ps.coordinator.create_per_worker_dataset(dataset_fn))

    def _schedule(self, iterator, count: int) -> list:
        if self._scheduled is None:
            # In the strategy's cross-replica context: a replica context would forbid the
            # conditional update (the non-finite check) around the Keras optimizers'
            # merge_call; _update enters one for the update alone.
            self._scheduled = tf.function(lambda iterator: self._worker_step(next(iterator)))
        schedule = self.ps.coordinator.schedule
        return [schedule(self._scheduled, args=(iterator,)) for _ in range(count)]

    def _join(self) -> bool:
        """Waits for the scheduled steps; True when a worker's shard ran out (the end of
        the epoch for every worker: the steps not started are cancelled)."""
        try:
            self.ps.coordinator.join()
        except tf.errors.OutOfRangeError:
            return True
        except tf.errors.InvalidArgumentError as e:
            raise self._data_error(e) from None
        except _LOST as e:
            message = " ".join(getattr(e, "message", str(e)).split())[:300]
            raise EasymtlError(
                f"parameter-server training stopped: {message}. A lost ps task loses its "
                "variables: restart it and the chief (the same command); training resumes "
                "from the last checkpoint in model_dir"
            ) from None
        return False

    def _data_error(self, error) -> EasymtlError:
        """The one-line error of training data a worker could not read (or, under
        bad_row_policy STOP, whose rows break a check): found again on the chief."""
        for _ in self._bad_rows(True)(self.build_dataset(True, shard=(0, 1))):
            pass
        message = " ".join(getattr(error, "message", str(error)).split())[:300]
        return EasymtlError(f"train_input_path: a worker could not read the data: {message}")

    # ------------------------------------------------------------------------ loop

    def _train_loop(self, step, num_steps, num_epochs, save, manager) -> int:
        """Schedules steps on the workers from `step` to the end, in rounds that end at
        each log and checkpoint step; between rounds it logs, judges non-finite steps,
        calls the callbacks with each step's result and saves (as the Runner's loop)."""
        train = self.config.train_config
        writer = self._train_writer(save is not None)
        save = save or (lambda step: None)
        saved_step = logged_step = first_step = step
        examples, start = 0, time.perf_counter()
        mark, iterator, epoch_steps = start, None, 0
        log_every, save_every = train.log_step_count_steps, train.save_checkpoints_steps
        with StopOnSignal() as stop, writer.as_default():
            for callback in self.callbacks:
                callback.before_train(step)
            while self._stop_reason is None and (num_steps is None or step < num_steps):
                epoch = int(self.epoch.numpy())
                if num_epochs is not None and epoch >= num_epochs:
                    break
                if iterator is None:
                    skip = int(self.step_in_epoch.numpy()) // self.ps.num_workers
                    iterator, epoch_steps = self._worker_batches(epoch, skip), 0
                end = min(_next(step, log_every), _next(step, save_every))
                if num_steps is not None:
                    end = min(end, num_steps)
                for number in range(step + 1, end + 1):
                    for callback in self.callbacks:
                        callback.before_step(number)
                futures = self._schedule(iterator, end - step)
                epoch_done = self._join()
                done = step
                step = int(self.global_step.numpy())
                for future in futures:
                    try:
                        result, bad = future.fetch()
                    except (tf.errors.OutOfRangeError, tf.errors.CancelledError):
                        continue
                    epoch_steps += 1
                    done += 1
                    if bad and not self._skip_bad:
                        raise self._data_error(EasymtlError("bad rows"))
                    result = StepResult(*tf.nest.map_structure(tf.convert_to_tensor, tuple(result)))
                    if not int(result.examples):
                        continue
                    examples += int(result.examples)
                    if not result.applied:
                        last = manager and manager.latest_checkpoint
                        self.train_step.check_finite(result.non_finite.numpy(), done, last)
                        self.skipped_batches.assign_add(1)
                    for callback in self.callbacks:
                        callback.after_step(min(done, step), result)
                if first_step == logged_step and step > first_step:
                    log.info("first steps done in %.1fs", time.perf_counter() - start)
                    first = {k: float(m.result()) for k, m in self.train_losses.items()}
                    for warning in loss_scale_warnings(self.tasks, first):
                        log.warning("%s", warning)
                if epoch_done:
                    if not epoch_steps:
                        raise EasymtlError(
                            f"train_input_path: a worker's shard of epoch {epoch + 1} is "
                            f"empty; give at least {self.ps.num_workers} files or batches"
                        )
                    self.epoch.assign_add(1)
                    self.step_in_epoch.assign(0)
                    iterator = None
                    log.info("epoch %d done at step %d", epoch + 1, step)
                if step // log_every > logged_step // log_every:
                    now = time.perf_counter()
                    self._log_train(step, num_steps, examples / (now - mark))
                    examples, mark, logged_step = 0, now, step
                if step // save_every > saved_step // save_every or stop.signum:
                    save(step)
                    saved_step = step
                if stop.signum:
                    raise Interrupted(
                        stop.signum,
                        f"stopped by signal {stop.signum} at step {step}; checkpoint saved in "
                        f"{self.model_dir}",
                    )
            if step != logged_step:
                self._log_train(step, num_steps, examples / (time.perf_counter() - mark))
            if self._stop_reason is not None:
                log.info("training stopped at step %d: %s", step, self._stop_reason)
            if step != saved_step or step == 0:
                save(step)
            summary.flush(writer)
            for callback in self.callbacks:
                callback.after_train(step)
        return step


def _next(step: int, every: int) -> int:
    """The first multiple of `every` after `step`."""
    return (step // every + 1) * every


def _task(variable) -> str:
    """Where a (Keras or TensorFlow) variable is: 'ps 1' for /job:ps/replica:0/task:1/..."""
    if isinstance(variable, keras.Variable):
        variable = variable.value
    spec = tf.DeviceSpec.from_string(variable.device)
    return f"{spec.job} {spec.task}"
