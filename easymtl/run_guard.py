"""What keeps a training run safe: one run per model_dir, and a clean stop on signals."""

from __future__ import annotations

import fcntl
import os
import signal
import threading

from easymtl.errors import EasymtlError


class Interrupted(EasymtlError):
    """Training stopped on SIGTERM or SIGINT after saving a checkpoint."""

    def __init__(self, signum: int, message: str):
        self.signum = signum
        super().__init__(message)


class ModelDirLock:
    """An exclusive lock on model_dir/.lock while a run trains.

    A second run on the same model_dir fails at once, naming the holder's pid. The lock
    is an flock: the OS releases it when the holder exits or is killed, so a crashed run
    never leaves it stuck.
    """

    def __init__(self, model_dir: str):
        self.path = os.path.join(model_dir, ".lock")
        self._file = None

    def __enter__(self) -> ModelDirLock:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        f = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            f.close()
            raise EasymtlError(
                f"model_dir {os.path.dirname(self.path)!r}: another training run (pid {holder}) "
                "is using it; wait for it to finish or use another model_dir"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class StopOnSignal:
    """Turns SIGTERM and SIGINT into a flag the training loop checks after each step.

    Outside the main thread (where handlers cannot be installed) it does nothing.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()
