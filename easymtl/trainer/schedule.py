"""Step scheduling in this process: one train step a round, batch after batch, epoch
after epoch (every worker of a synchronous multi-worker run in lockstep)."""

from __future__ import annotations

import itertools
import logging
from concurrent.futures import ThreadPoolExecutor

from easymtl.data import BAD_ROWS
from easymtl.data.checks import no_rows_trained
from easymtl.train_step import StepResult

log = logging.getLogger("easymtl")


class LocalSchedule:
    """Runs the runner's compiled :meth:`~easymtl.runner.Runner.run_step` on each
    training batch, from the state's epoch position on.

    The loop asks :meth:`next` how many steps the next round holds (here one, or 0 at the
    end) and then :meth:`run` s them; a scheduler that runs steps elsewhere (the
    parameter-server one, :mod:`easymtl.ps.schedule`) answers the same two calls.

    Args:
        runner: The runner whose steps run.
        num_epochs: The epoch to end at (None: no limit).
    """

    def __init__(self, runner, num_epochs: int | None):
        self.runner = runner
        self.state = runner.state
        self.batches = self._batches(num_epochs)
        self.batch = None
        self.step_fn = None

    def next(self, step: int, num_steps: int | None) -> int:
        """Reads the next round's batch; returns its step count (0: training ends)."""
        del step, num_steps
        self.batch = next(self.batches, None)
        return 0 if self.batch is None else 1

    def run(self, count: int) -> list[StepResult]:
        """Runs the round's step; returns its result."""
        del count
        return [self.step_fn(self.batch)]

    def close(self) -> None:
        """Ends the input pipeline when training ends (the loop calls it), not in a
        later garbage collection: its threads stop and its buffers (the shuffle buffer's
        rows) are freed before evaluation and export."""
        self.batches.close()
        self.batch = None

    def _first_batch(self, batches):
        """The first batch of `batches` (None: none), read on a thread of its own while
        this one traces the step from its signature: the input pipeline's start (in
        TensorFlow's threads, without the GIL) and the tracing (Python) overlap instead
        of following each other."""
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(next, batches, None)
            self.step_fn.get_concrete_function()
            return first.result()

    def _batches(self, num_epochs: int | None):
        """Training batches from the saved epoch position on, epoch after epoch; compiles
        the train step for them. Counts skipped bad rows; a batch left empty by them
        advances the epoch position without a step (on every worker). Ends before the
        next batch when a stop is requested on any worker."""
        state, runner = self.state, self.runner
        while num_epochs is None or int(state.epoch.numpy()) < num_epochs:
            dataset = runner.build_dataset(True, int(state.epoch.numpy()))
            from_start, stepped = int(state.step_in_epoch.numpy()) == 0, False
            dataset = dataset.skip(int(state.step_in_epoch.numpy()))
            self.step_fn = runner.compiled_step("train", dataset)
            batches = iter(runner.inputs.bad_rows(True)(dataset))
            batches = itertools.chain([self._first_batch(batches)], batches)
            while True:
                batch = next(batches, None)
                rows = 0 if batch is None else runner.inputs.rows(batch)
                # Workers step together: the epoch ends when any worker's shard does,
                # training when any worker requests a stop.
                more, full, go_on = runner.cluster.agree(
                    [batch is not None, rows > 0, runner.stop_reason is None]
                )
                if not go_on:  # this batch is read again on resume
                    runner.request_stop("stop requested by another worker")
                    return
                if batch is not None and int(batch[BAD_ROWS]):
                    state.bad_rows_skipped.assign_add(int(batch[BAD_ROWS]))
                if not more:
                    break
                if full:
                    stepped = True
                    yield batch
                else:  # every row of some worker's batch skipped as bad: no step
                    state.step_in_epoch.assign_add(1)
            if from_start and not stepped:  # no batch to train on, in any epoch
                raise no_rows_trained(int(state.bad_rows_skipped.numpy()))
            state.epoch.assign_add(1)
            state.step_in_epoch.assign(0)
            log.info(
                "epoch %d done at step %d", int(state.epoch.numpy()), int(state.global_step.numpy())
            )
