"""model_dir/train.log: every run's log kept beside its model.

:class:`RunLog` collects the ``easymtl`` log records of a command from its start. Once
the run has written to model_dir for good (its first checkpoint, or an evaluation's
results), it appends a header naming the command, then the lines so far, to
``model_dir/<name>`` and goes on appending as the run logs; an error that ends the run is
its last line. A run that fails before writing anything leaves no trace, as model_dir
itself (:class:`easymtl.run_guard.UndoOnFailure`).

A file that has grown past ``max_bytes`` is rotated first: ``train.log`` becomes
``train.log.1`` (``.1`` becomes ``.2``, …, ``backups`` of them kept). A model_dir on a
remote file system (``gs://``, ``hdfs://``) gets the run's lines when the run ends.
"""

from __future__ import annotations

import logging
import os
import socket
import time

from easymtl.callbacks import Callback

log = logging.getLogger("easymtl")

FORMAT = "%(asctime)s %(levelname)s %(message)s"


class RunLog(Callback):
    """Keeps a command's log in model_dir (a context manager and a runner callback).

    Args:
        model_dir: Where the log file goes.
        name: Its name: ``train.log`` (``python -m easymtl.train``) or ``evaluate.log``
            (the evaluator, which may run beside training).
        command: The command line, for the run's header.
        max_bytes: Rotate a file that has grown past this size.
        backups: How many rotated files to keep.

    Example:
        ```python
        with RunLog(config.model_dir, command="python -m easymtl.train ...") as run_log:
            Runner(config, callbacks=[run_log]).train()
            run_log.open()  # the run wrote model_dir: keep its log
        ```
    """

    def __init__(
        self,
        model_dir: str,
        name: str = "train.log",
        command: str = "",
        max_bytes: int = 10 << 20,
        backups: int = 3,
    ):
        self.path = os.path.join(model_dir, name)
        self.command = command
        self.max_bytes = max_bytes
        self.backups = backups
        self.remote = "://" in model_dir
        self._lines: list[str] = []
        self._file = None
        self._opened = False
        self._broken = False
        self._handler = _Collect(self)

    @property
    def opened(self) -> bool:
        """Whether the run's lines go to the file."""
        return self._opened

    def __enter__(self) -> RunLog:
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        self._lines.append(
            f"==== {started} {self.command} (pid {os.getpid()} on {socket.gethostname()})\n"
        )
        log.addHandler(self._handler)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        log.removeHandler(self._handler)
        if self._opened and exc is not None:
            self.write(f"error: {exc}\n" if str(exc) else f"error: {exc_type.__name__}\n")
        self.close()

    def open(self) -> None:
        """Starts writing the file (the lines so far first); once per run."""
        if self._opened:
            return
        self._opened = True
        if not self.remote:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            self._rotate_if_full()
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        lines, self._lines = self._lines, []
        for line in lines:
            self.write(line)

    def write(self, line: str) -> None:
        if self._broken:
            return
        if not self._opened or self._file is None:
            self._lines.append(line)
            return
        if self._file.tell() > self.max_bytes:  # grown past it during this run
            self._file.close()
            self._rotate_if_full()
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._file.write(line)
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        elif self._opened and self.remote and self._lines:
            self._append_remote("".join(self._lines))
        self._lines = []

    # The run has written model_dir for good: keep its log from here on.
    def on_checkpoint(self, step: int, path: str) -> None:
        self.open()

    def after_evaluate(self, step: int, results: dict) -> None:
        self.open()

    def _rotate_if_full(self) -> None:
        if not os.path.exists(self.path) or os.path.getsize(self.path) <= self.max_bytes:
            return
        for i in range(self.backups - 1, 0, -1):
            if os.path.exists(f"{self.path}.{i}"):
                os.replace(f"{self.path}.{i}", f"{self.path}.{i + 1}")
        os.replace(self.path, f"{self.path}.1")

    def _append_remote(self, text: str) -> None:
        import tensorflow as tf

        old = ""
        if tf.io.gfile.exists(self.path):
            with tf.io.gfile.GFile(self.path) as f:
                old = f.read()
            if len(old) > self.max_bytes:
                tf.io.gfile.rename(self.path, f"{self.path}.1", overwrite=True)
                old = ""
        with tf.io.gfile.GFile(self.path, "w") as f:
            f.write(old + text)


class _Collect(logging.Handler):
    def __init__(self, run_log: RunLog):
        super().__init__(logging.INFO)
        self.run_log = run_log
        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record) -> None:
        try:
            self.run_log.write(self.format(record) + "\n")
        except OSError:  # a full disk must not end the run (its checkpoints report it)
            self.run_log._broken = True
