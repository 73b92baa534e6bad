"""Step scheduling on a parameter-server cluster's workers.

The chief schedules rounds of asynchronous steps, each the runner's
:meth:`~easymtl.runner.Runner.run_step` on one worker's batch of that worker's shard,
up to the next log or checkpoint step; the loop (:class:`~easymtl.trainer.loop.TrainLoop`)
then logs, judges, calls the callbacks and saves as for steps run in one process.
"""

from __future__ import annotations

import logging

import tensorflow as tf

from easymtl.data import BAD_ROWS
from easymtl.errors import EasymtlError
from easymtl.protos import data_pb2
from easymtl.train_step import StepResult

log = logging.getLogger("easymtl")

# What joining the scheduled steps raises when a ps task is lost.
_LOST = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError)


class AsyncSchedule:
    """Runs rounds of steps on the workers, epoch after epoch from the state's position
    (the same two calls as :class:`~easymtl.trainer.schedule.LocalSchedule`).

    Args:
        runner: The chief's :class:`~easymtl.ps.runner.PSRunner`.
        num_epochs: The epoch to end at (None: no limit).
    """

    def __init__(self, runner, num_epochs: int | None):
        self.runner = runner
        self.state = runner.state
        self.ps = runner.ps
        self.num_epochs = num_epochs
        train = runner.config.train_config
        self.log_every, self.save_every = train.log_step_count_steps, train.save_checkpoints_steps
        self.skip_bad = runner.config.data_config.bad_row_policy == data_pb2.DataConfig.SKIP
        self.iterator = None
        self.epoch_steps = 0
        self.scheduled = None

    def next(self, step: int, num_steps: int | None) -> int:
        """The steps of the next round: up to the next log or checkpoint step (0: the
        end, or a stop requested)."""
        if self.runner.stop_reason is not None:
            return 0
        epoch = int(self.state.epoch.numpy())
        if self.num_epochs is not None and epoch >= self.num_epochs:
            return 0
        if self.iterator is None:
            skip = int(self.state.step_in_epoch.numpy()) // self.ps.num_workers
            self.iterator, self.epoch_steps = self._worker_batches(epoch, skip), 0
        end = _next(step, self.log_every)
        if self.save_every:  # 0: a checkpoint at the end only
            end = min(end, _next(step, self.save_every))
        if num_steps is not None:
            end = min(end, num_steps)
        return end - step

    def run(self, count: int) -> list[StepResult]:
        """Schedules `count` steps on the workers and waits for them; their results
        (a step a worker could not start, its shard at its end, has none)."""
        futures = self._schedule(count)
        epoch_done = self._join()
        results = []
        for future in futures:
            try:
                result, bad = future.fetch()
            except (tf.errors.OutOfRangeError, tf.errors.CancelledError):
                continue
            self.epoch_steps += 1
            if bad and not self.skip_bad:
                raise self._data_error(EasymtlError("bad rows"))
            results.append(StepResult(*tf.nest.map_structure(tf.convert_to_tensor, tuple(result))))
        if epoch_done:
            self._end_epoch()
        return results

    def close(self) -> None:
        """Lets go of the workers' batches (the loop's end)."""
        self.iterator = None

    def _end_epoch(self) -> None:
        epoch = int(self.state.epoch.numpy())
        if not self.epoch_steps:
            raise EasymtlError(
                f"train_input_path: a worker's shard of epoch {epoch + 1} is "
                f"empty; give at least {self.ps.num_workers} files or batches"
            )
        self.state.epoch.assign_add(1)
        self.state.step_in_epoch.assign(0)
        self.iterator = None
        log.info("epoch %d done at step %d", epoch + 1, int(self.state.global_step.numpy()))

    def _worker_step(self, batch):
        """One step on a worker's batch: (its StepResult, its bad rows). A batch that
        bad rows left empty, or that holds bad rows under bad_row_policy STOP, trains
        nothing."""
        runner, state = self.runner, self.state
        bad = batch.pop(BAD_ROWS, tf.constant(0, tf.int64))
        rows = tf.shape(batch[runner.inputs.label_names[0]])[0]
        if self.skip_bad:
            state.bad_rows_skipped.assign_add(bad)
            trains = rows > 0
        else:
            trains = (rows > 0) & (bad == 0)

        def idle():
            state.step_in_epoch.assign_add(1)
            return StepResult(
                tf.constant(0.0),
                {t.name: tf.constant(0.0) for t in runner.tasks},
                tf.identity(state.loss_weights),
                tf.zeros([len(runner.tasks) + 1], tf.bool),
                tf.constant(0, tf.int32),
                runner.inputs.split(batch)[1],
                runner.train_step.no_predictions(rows),
            )

        return tf.cond(trains, lambda: runner.run_step(batch), idle), bad

    def _worker_batches(self, epoch: int, skip: int):
        """An iterator of each worker's own batches of `epoch`, `skip` batches in."""
        n = self.ps.num_workers
        build_dataset = self.runner.build_dataset

        @tf.autograph.experimental.do_not_convert  # it builds the pipeline in Python
        def dataset_fn():
            shards = [build_dataset(True, epoch, shard=(i, n)).skip(skip) for i in range(n)]
            if n == 1:
                return shards[0]
            index = tf.distribute.coordinator.experimental_get_current_worker_index()
            choice = tf.data.Dataset.from_tensors(tf.cast(index, tf.int64)).repeat()
            return tf.data.Dataset.choose_from_datasets(shards, choice, stop_on_empty_dataset=True)

        return iter(self.ps.coordinator.create_per_worker_dataset(dataset_fn))

    def _schedule(self, count: int) -> list:
        if self.scheduled is None:
            # In the strategy's cross-replica context: a replica context would forbid the
            # conditional update (the non-finite check) around the Keras optimizers'
            # merge_call; PSRunner.apply_gradients enters one for the update alone.
            self.scheduled = tf.function(
                lambda iterator: self._worker_step(next(iterator)), autograph=False
            )
        schedule = self.ps.coordinator.schedule
        return [schedule(self.scheduled, args=(self.iterator,)) for _ in range(count)]

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
        bad_rows = self.runner.inputs.bad_rows(True)
        for _ in bad_rows(self.runner.build_dataset(True, shard=(0, 1))):
            pass
        message = " ".join(getattr(error, "message", str(error)).split())[:300]
        return EasymtlError(f"train_input_path: a worker could not read the data: {message}")


def _next(step: int, every: int) -> int:
    """The first multiple of `every` after `step`."""
    return (step // every + 1) * every
