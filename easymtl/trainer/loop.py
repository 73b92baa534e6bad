"""The training loop, once for every trainer (detectron2's ``TrainerBase.train``).

Round after round it asks the runner's step schedule how many steps the next round
holds, calls ``before_step`` for each, runs them (:meth:`Runner.run_step` on a batch
each, in this process or on the workers), judges non-finite steps, logs on schedule,
calls ``after_step`` with each step's result and saves on schedule, on a signal and at
the end. What differs between trainers is the schedule (:meth:`Runner.schedule`): a
round is one step in this process, or the steps up to the next log or save step on a
parameter-server cluster's workers.
"""

from __future__ import annotations

import logging
import time

from easymtl import summary
from easymtl.checkpoints import SaveSchedule
from easymtl.run_guard import Interrupted, StopOnSignal
from easymtl.train_step import StepResult

log = logging.getLogger("easymtl")


class TrainLoop:
    """Trains `runner` from a step to the end of its run.

    Args:
        runner: The runner (its state, schedule, train log, callbacks).
        num_steps: The global step to end at (None: no limit).
        num_epochs: The epoch to end at (None: no limit).
        saver: Saves a checkpoint (:class:`~easymtl.trainer.saver.RunSaver`); None
            on a worker that writes nothing (not the chief).
    """

    def __init__(self, runner, num_steps: int | None, num_epochs: int | None, saver=None):
        self.runner = runner
        self.num_steps = num_steps
        self.num_epochs = num_epochs
        self.saver = saver
        train = runner.config.train_config
        self.log_every = train.log_step_count_steps
        self.saves = SaveSchedule(train)  # renewed at the run's epoch in run()
        self.train_log = runner.train_log
        self.step = self.logged_step = self.saved_step = self.first_step = 0
        self.examples, self.mark, self.start = 0, 0.0, 0.0
        self.first_done = False

    def run(self, step: int) -> int:
        """Trains from `step` (the restored global step); returns the last step."""
        self.step = self.logged_step = self.saved_step = self.first_step = step
        self.examples, self.start = 0, time.perf_counter()
        self.mark, self.first_done = self.start, False
        schedule = self.runner.schedule(self.num_epochs)
        epoch = self.runner.state.epoch
        self.saves = SaveSchedule(self.runner.config.train_config, int(epoch.numpy()))
        writer = self.train_log.writer(self.saver is not None)
        with StopOnSignal() as stop, writer.as_default():
            self._call("before_train", step)
            try:
                while self.num_steps is None or self.step < self.num_steps:
                    count = schedule.next(self.step, self.num_steps)
                    if not count:
                        break
                    # save_checkpoints_epochs: the round's first batch may start an epoch.
                    if self.saves.epoch_ended(int(epoch.numpy())) and self.step != self.saved_step:
                        self._save()
                    for number in range(self.step + 1, self.step + count + 1):
                        self._call("before_step", number)
                    self._after_round(schedule.run(count), count, stop.signum)
            finally:
                schedule.close()
            self._finish(writer)
        return self.step

    def _after_round(self, results: list[StepResult], count: int, signum: int | None) -> None:
        before, self.step = self.step, int(self.runner.state.global_step.numpy())
        numbered = self._judge(results, before)
        if not self.first_done and self.step > self.first_step:
            what = "first step" if count == 1 else "first steps"
            log.info("%s done in %.1fs", what, time.perf_counter() - self.start)
            self.train_log.warn_loss_scales()
            self.first_done = True
        if self.step // self.log_every > self.logged_step // self.log_every:
            self._log()
        for number, result in numbered:
            self._call("after_step", number, result)
        if self.saves.after_step(self.step, self.saved_step) or signum:
            self._save()
        if signum:
            saved = f"checkpoint saved in {self.runner.model_dir}" if self.saver else "not saved"
            raise Interrupted(signum, f"stopped by signal {signum} at step {self.step}; {saved}")

    def _judge(self, results: list[StepResult], before: int) -> list[tuple[int, StepResult]]:
        """Counts the round's examples and judges its withheld updates (training stops,
        or a skipped batch is counted); returns the results of the steps that trained,
        numbered (a step number is at most the global step after the round)."""
        numbered = []
        for done, result in enumerate(results, before + 1):
            if not int(result.examples):  # a worker's batch that bad rows left empty
                continue
            self.examples += int(result.examples)
            if not result.applied:
                latest = self.saver.latest if self.saver else None
                self.runner.train_step.check_finite(result.non_finite.numpy(), done, latest)
                self.runner.state.skipped_batches.assign_add(1)
            numbered.append((min(done, self.step), result))
        return numbered

    def _finish(self, writer) -> None:
        if self.step != self.logged_step:  # the last step is on the curves too
            self._log()
        if self.runner.stop_reason is not None:
            log.info("training stopped at step %d: %s", self.step, self.runner.stop_reason)
        if self.step != self.saved_step or self.step == 0:
            self._save()
        summary.flush(writer)
        self._call("after_train", self.step)

    def _log(self) -> None:
        now = time.perf_counter()
        self.train_log.log(self.step, self.num_steps, self.examples / (now - self.mark))
        self.examples, self.mark, self.logged_step = 0, now, self.step

    def _save(self) -> None:
        if self.saver is not None:
            self.saver.save(self.step)
        self.saved_step = self.step

    def _call(self, hook: str, *args) -> None:
        for callback in self.runner.callbacks:
            getattr(callback, hook)(*args)
