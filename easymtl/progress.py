"""Where a run is: the step of the planned last, the speed and the time left.

:class:`Progress` is a runner callback. Before training it works out the last step of
the run: ``train_config.num_steps``, or the epochs' steps from the rows of
train_input_path (counted, or estimated from the file sizes: :mod:`easymtl.data.rows`),
and logs how it knows. The runner's periodic ``step`` line then reads
``step 20/157 (13%, eta 4m16s)`` (``20/~157`` where the rows were estimated). An
evaluation shows its examples done of the eval set's.

On a terminal (TTY) a live line below the log shows ``step 57/157 (36%) · 540 ex/s · eta
11s`` (or ``eval 2,560/10,000 examples (26%) · …``) and is rewritten in place; any log
line first clears it. Into a pipe or file only log lines go: the periodic step lines, and
an evaluation's progress every ``every_secs`` seconds.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections import deque

from easymtl.callbacks import Callback
from easymtl.data.rows import RowCount, count_rows

log = logging.getLogger("easymtl")


def duration(seconds: float) -> str:
    """``45s``, ``4m16s``, ``2h05m``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class LiveLine:
    """One line rewritten in place at the bottom of a terminal; cleared before each log
    record of the ``easymtl`` logger, and redrawn by the next :meth:`show`.

    Args:
        stream: Where it is drawn (the terminal the log goes to).
    """

    def __init__(self, stream):
        self.stream = stream
        self.shown = False
        self._filter = None

    def show(self, text: str) -> None:
        if self._filter is None:
            self._filter = _ClearFirst(self)
            log.addFilter(self._filter)
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def close(self) -> None:
        self.clear()
        if self._filter is not None:
            log.removeFilter(self._filter)
            self._filter = None


class _ClearFirst(logging.Filter):
    def __init__(self, line: LiveLine):
        super().__init__()
        self.line = line

    def filter(self, record) -> bool:
        self.line.clear()
        return True


class Meter:
    """The progress of one pass over rows (an evaluation, a prediction): a live line on
    a terminal, else a log line every `every_secs` seconds.

    Args:
        what: What is done, first in each line (``eval``, ``predict``).
        total: The rows of the pass, if known.
        stream: The terminal, or None (log lines only).
        every_secs: Seconds between log lines where there is no terminal.
        unit: What a row is called.
    """

    def __init__(
        self, what: str, total: RowCount | None, stream=None, every_secs=10.0, unit="examples"
    ):
        self.what = what
        self.total = total
        self.live = LiveLine(stream) if stream is not None else None
        self.every_secs = every_secs
        self.unit = unit
        # The speed is measured from the first update on (the first batch includes
        # building the pipeline and tracing the step).
        self.first: tuple[float, int] | None = None
        self.last_line = time.perf_counter()
        self.last_draw = 0.0

    def text(self, done: int, sep: str) -> str:
        """``eval 2,560/10,000 examples (26%)<sep>540 examples/sec<sep>eta 14s``."""
        speed = None
        if self.first is not None:
            seconds, rows = time.perf_counter() - self.first[0], done - self.first[1]
            speed = rows / seconds if seconds > 0 and rows > 0 else None
        rate = f"{sep}{speed:,.0f} {self.unit}/sec" if speed else ""
        if self.total is None or not self.total.rows:
            return f"{self.what} {done:,} {self.unit}{rate}"
        tilde = "" if self.total.exact else "~"
        share = min(done / self.total.rows, 1.0)
        eta = ""
        if speed:
            eta = f"{sep}eta {duration(max(0, self.total.rows - done) / speed)}"
        return (
            f"{self.what} {done:,}/{tilde}{self.total.rows:,} {self.unit} ({share:.0%}){rate}{eta}"
        )

    def update(self, done: int) -> None:
        """`done` rows are done (in all)."""
        now = time.perf_counter()
        if self.first is None:
            self.first = (now, done)
        if self.live is not None:
            if now - self.last_draw >= 0.2 or not self.live.shown:
                self.live.show(self.text(done, " · "))
                self.last_draw = now
        elif self.every_secs and now - self.last_line >= self.every_secs:
            log.info("%s", self.text(done, ", "))
            self.last_line = now

    def close(self) -> None:
        if self.live is not None:
            self.live.close()


def terminal(stream=None):
    """`stream` (default stdout, where the CLIs log) if it is a terminal, else None."""
    stream = stream or sys.stdout
    isatty = getattr(stream, "isatty", None)
    return stream if isatty is not None and isatty() else None


class Progress(Callback):
    """Progress of training and evaluation (see the module's docstring).

    Args:
        stream: The terminal for the live line; default stdout if it is one.
        every_secs: Seconds between an evaluation's progress lines without a terminal.
        window_secs: The speed behind the time left is measured over this many seconds.
    """

    def __init__(self, stream=None, every_secs: float = 10.0, window_secs: float = 60.0):
        self.stream = terminal(stream)
        self.every_secs = every_secs
        self.window_secs = window_secs
        self.end: int | None = None  # the planned last step of this run
        self.exact = True
        self._times: deque[tuple[float, int]] = deque()
        self._live: LiveLine | None = None
        self._last_draw = 0.0
        self._eval: Meter | None = None
        self._eval_rows = 0
        self._eval_total: dict[str, RowCount | None] = {}

    # ----------------------------------------------------------------------- training

    def before_train(self, step: int) -> None:
        self._times.clear()
        self.end, how = self._plan(step)
        if self.end is not None:
            log.info("training to step %d%s", self.end, how)
        elif how:
            log.info("training: %s", how)
        if self.stream is not None:
            self._live = LiveLine(self.stream)

    def _plan(self, step: int) -> tuple[int | None, str]:
        """(the run's last step, how it is known)."""
        from easymtl.lifecycle import runs

        runner = self.runner
        num_steps, num_epochs = runs.limits(runner, runner.run)
        if num_epochs is None:
            self.exact = True
            return num_steps, " (train_config.num_steps)"
        per_epoch, how = self._epoch_steps()
        epochs = f"{num_epochs} epoch{'s' if num_epochs != 1 else ''}"
        if per_epoch is None:
            if num_steps is None:
                return None, f"{epochs} of unknown length ({how})"
            return num_steps, f" (train_config.num_steps; the epochs' length is unknown: {how})"
        state = runner.state
        epoch, in_epoch = int(state.epoch.numpy()), int(state.step_in_epoch.numpy())
        end = step + max(0, (num_epochs - epoch) * per_epoch - in_epoch)
        steps = f"{'' if self.exact else 'about '}{per_epoch} steps"
        if num_steps is not None and num_steps < end:
            self.exact = True
            return num_steps, f" (train_config.num_steps; an epoch is {steps}: {how})"
        return end, f": {epochs} of {steps} ({how})"

    def _epoch_steps(self) -> tuple[int | None, str]:
        """(steps of one epoch on this worker, how they were found)."""
        from easymtl.data import expand_paths

        runner = self.runner
        data = runner.config.data_config
        files = expand_paths(runner.config.train_input_path, "train_input_path")
        workers = runner.cluster.num_workers
        if workers > 1 and len(files) >= workers:  # each worker reads its files
            shards = [count_rows(files[i::workers], data) for i in range(workers)]
        else:
            shards = [count_rows(files, data)]
        if any(s is None for s in shards):
            return None, "gzip or unreadable train files"
        by_rows = math.floor if data.drop_remainder else math.ceil
        batches = [by_rows(s.rows / data.batch_size) for s in shards]
        per_epoch = min(batches) if len(shards) > 1 else batches[0] // workers
        if getattr(runner.cluster, "ps", None) is not None:  # a step is one worker's batch
            per_epoch = batches[0] if len(shards) == 1 else per_epoch * workers
        self.exact = all(s.exact for s in shards) and getattr(runner.cluster, "ps", None) is None
        total = RowCount(sum(s.rows for s in shards), all(s.exact for s in shards), len(files))
        return per_epoch, f"{total.how}, batches of {data.batch_size}"

    def after_step(self, step: int, result) -> None:
        now = time.perf_counter()
        self._times.append((now, step))
        while len(self._times) > 2 and now - self._times[0][0] > self.window_secs:
            self._times.popleft()
        if self._live is not None and (now - self._last_draw >= 0.2 or not self._live.shown):
            self._live.show(self.line(step))
            self._last_draw = now

    def steps_per_sec(self) -> float | None:
        """The speed over the last `window_secs` seconds (from the first step done)."""
        if len(self._times) < 2:
            return None
        (t0, s0), (t1, s1) = self._times[0], self._times[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 and s1 > s0 else None

    def eta(self, step: int) -> str | None:
        rate = self.steps_per_sec()
        if rate is None or self.end is None or step > self.end:
            return None
        return duration((self.end - step) / rate)

    def _head(self, step: int, eta: str | None) -> str:
        """``20/157 (13%, eta 4m16s)``, ``20/~157 (13%)``, ``20 (past the estimated 157)``."""
        if self.end is None:
            return str(step)
        if step > self.end:
            return f"{step} (past the estimated {self.end})"
        tilde = "" if self.exact else "~"
        share = f"{step / self.end:.0%}" if self.end else "100%"
        return f"{step}/{tilde}{self.end} ({share}{f', eta {eta}' if eta else ''})"

    def progress(self, step: int) -> str | None:
        if self.end is None:
            return None
        return self._head(step, self.eta(step))

    def line(self, step: int) -> str:
        """The live line: ``step 57/157 (36%) · 540 ex/s · eta 11s``."""
        parts = [f"step {self._head(step, None)}"]
        rate = self.steps_per_sec()
        if rate is not None:
            parts.append(f"{rate * self.runner.config.data_config.batch_size:,.0f} ex/s")
        eta = self.eta(step)
        if eta:
            parts.append(f"eta {eta}")
        return " · ".join(parts)

    def after_train(self, step: int) -> None:
        if self._live is not None:
            self._live.close()
            self._live = None

    # --------------------------------------------------------------------- evaluation

    def before_evaluate(self, step: int) -> None:
        total, how = self._eval_rows_total()
        log.info("evaluating step %d on %s", step, how)
        self._eval = Meter("eval", total, self.stream, self.every_secs)
        self._eval_rows = 0

    def after_eval_step(self, index: int, examples: int) -> None:
        self._eval_rows += examples
        if self._eval is not None:
            self._eval.update(self._eval_rows)

    def _eval_rows_total(self) -> tuple[RowCount | None, str]:
        """(the rows an evaluation reads, how they are known): eval_input_path's, or
        eval_config.num_steps batches of them."""
        from easymtl.data import expand_paths

        config = self.runner.config
        path = config.eval_input_path
        if path not in self._eval_total:
            files = expand_paths(path, "eval_input_path")
            self._eval_total[path] = count_rows(files, config.data_config)
        total = self._eval_total[path]
        limit = config.eval_config.num_steps
        batch = config.data_config.eval_batch_size or config.data_config.batch_size
        if total is None:
            return None, f"{path} (its rows are unknown: gzip or unreadable files)"
        if limit and limit * batch < total.rows:
            rows = RowCount(limit * batch, total.exact, total.files)
            return rows, f"{rows.rows:,} rows (eval_config.num_steps {limit}, batches of {batch})"
        return total, total.how

    def after_evaluate(self, step: int, results: dict) -> None:
        if self._eval is not None:
            self._eval.close()
            self._eval = None
