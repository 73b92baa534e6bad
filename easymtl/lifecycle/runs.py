"""Training runs of a model_dir (model_dir/runs.json): incremental (daily) training.

A model_dir is trained in runs. The first run starts at step 0 (from scratch, or warm
started from train_config.fine_tune_checkpoint). A rerun of an unfinished run (killed,
stopped by a signal, or failed) resumes it where its last checkpoint left it. A finished
run is continued only by ``--continue_train`` (EasyRec's flag) on new data, a different
train_input_path such as the next day's files: a new run starts from the latest
checkpoint with its own epoch counters (num_epochs and num_steps count from its first
step), while the global step, the optimizer state and the learning-rate schedule (a
function of the global step) go on. Each run's data, steps and end are recorded in
runs.json.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time

from easymtl.disk import read_json, write_json
from easymtl.errors import EasymtlError

log = logging.getLogger("easymtl")

RUNS = "runs.json"


@dataclasses.dataclass
class Run:
    """One training run of a model_dir.

    Attributes:
        number: 1 for the first run of the model_dir, then 2, 3, ...
        train_input_path: The run's train_input_path.
        start_step: The global step it started at.
        end_step: The global step it finished at; None while unfinished.
        stop_reason: Why it stopped for good before its end (early stopping sets it
            before requesting the stop), if it did.
        warm_start: The checkpoint it was warm started from, if it was.
        num_steps: The last global step train_config allowed it when it finished.
        num_epochs: The epochs train_config allowed it when it finished.
        started: When it started (local time).
        finished: When it finished.
    """

    number: int
    train_input_path: str
    start_step: int
    end_step: int | None = None
    stop_reason: str | None = None
    warm_start: str | None = None
    started: str = ""
    finished: str | None = None
    num_steps: int | None = None
    num_epochs: int | None = None


def read(model_dir: str) -> list[Run]:
    """The runs recorded in model_dir, oldest first."""
    return [Run(**r) for r in read_json(os.path.join(model_dir, RUNS), default=[])]


def write(model_dir: str, runs: list[Run]) -> None:
    write_json(os.path.join(model_dir, RUNS), [dataclasses.asdict(r) for r in runs], "the runs")


def run_at(model_dir: str, step: int) -> Run | None:
    """The run that trained the checkpoint of `step`."""
    found = None
    for run in read(model_dir):
        if run.start_step < step or (run.start_step == step == 0):
            found = run
    return found


def begin(runner, step: int, continue_train: bool = False) -> Run | None:
    """The run that a training of `runner` from restored `step` is part of, or None if
    there is nothing to train (its run is finished). A new run (continued training)
    sets the runner's epoch counters to 0.

    Raises:
        EasymtlError: the run is finished, the train data is new and continue_train
            is not set.
    """
    config = runner.config
    runs = read(runner.model_dir)
    data = config.train_input_path
    last = runs[-1] if runs else None
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    if last is None:
        # A model_dir trained before runs.json existed is one run that started at 0.
        last = Run(1, data, 0, started=now, warm_start=_warm_start(runner))
        runs.append(last)
    if last.end_step is None and step > last.start_step and _finished(runner, last, step):
        last.end_step, last.finished = step, now  # killed between its last save and here
    elif last.end_step is not None and last.train_input_path == data and _raised(runner, last):
        log.info("run %d goes on from step %d: train_config allows more", last.number, step)
        last.end_step = last.finished = None
    if last.end_step is None:
        if last.train_input_path != data:
            log.warning(
                "run %d (unfinished, at step %d) was on train_input_path %r, this one is %r: "
                "it goes on with the new files from its saved position",
                last.number,
                step,
                last.train_input_path,
                data,
            )
            last.train_input_path = data
        if step == last.start_step:
            # No checkpoint of this run yet: the counters are still the previous run's.
            runner.state.epoch.assign(0)
            runner.state.step_in_epoch.assign(0)
        runner.runs = runs
        return last
    # The last run is finished.
    if last.train_input_path == data:
        log.info(
            "training already finished at step %d (run %d on train_input_path %r)%s",
            step,
            last.number,
            last.train_input_path,
            "" if continue_train else "; --continue_train trains it further on new data",
        )
        runner.runs = runs
        return None
    if not continue_train:
        raise EasymtlError(
            f"model_dir {runner.model_dir!r}: training finished at step {step} (run "
            f"{last.number} on train_input_path {last.train_input_path!r}); pass "
            f"--continue_train to train it further on train_input_path {data!r} "
            "(incremental training), or use a new model_dir"
        )
    run = Run(last.number + 1, data, step, started=now)
    runs.append(run)
    runner.state.epoch.assign(0)
    runner.state.step_in_epoch.assign(0)
    log.info(
        "run %d: continuing model_dir from step %d on train_input_path %r (run %d trained on "
        "%r); epochs and num_steps count from this step, the global step, optimizer state "
        "and learning-rate schedule go on",
        run.number,
        step,
        data,
        last.number,
        last.train_input_path,
    )
    runner.runs = runs
    return run


def record(runner) -> None:
    """Writes the runner's runs to model_dir/runs.json (by the chief)."""
    write(runner.model_dir, runner.runs)


def finish(runner, run: Run, step: int) -> None:
    """Records the end of a train() of `run` at `step`: the run is finished when its
    num_steps or num_epochs is reached, or a final stop was decided (``stop_reason``
    set, as early stopping does); a stop another callback requested only pauses it."""
    if run.stop_reason or _finished(runner, run, step):
        run.end_step = step
        run.finished = time.strftime("%Y-%m-%dT%H:%M:%S")
        run.num_steps, run.num_epochs = limits(runner, run)
    record(runner)


def limits(runner, run: Run) -> tuple[int | None, int | None]:
    """(last global step, epochs) of `run` from train_config: num_steps counts from the
    run's first step; num_epochs defaults to 1 when num_steps is not set."""
    train = runner.config.train_config
    num_steps = run.start_step + train.num_steps if train.HasField("num_steps") else None
    num_epochs = train.num_epochs if train.HasField("num_epochs") else (None if num_steps else 1)
    return num_steps, num_epochs


def _raised(runner, run: Run) -> bool:
    """Whether train_config now allows `run`, finished by its limits, more: num_steps
    or num_epochs raised since (a run stopped early stays stopped)."""
    if run.stop_reason:
        return False
    num_steps, num_epochs = limits(runner, run)
    more_steps = num_steps is not None and num_steps > run.end_step
    if run.num_steps is not None and num_steps is not None:
        more_steps = more_steps and num_steps > run.num_steps
    more_epochs = (
        num_epochs is not None and run.num_epochs is not None and num_epochs > run.num_epochs
    )
    return more_steps or more_epochs


def _finished(runner, run: Run, step: int) -> bool:
    num_steps, num_epochs = limits(runner, run)
    return (num_steps is not None and step >= num_steps) or (
        num_epochs is not None and int(runner.state.epoch.numpy()) >= num_epochs
    )


def _warm_start(runner) -> str | None:
    report = getattr(runner, "warm_start", None)
    return report.checkpoint if report else None
