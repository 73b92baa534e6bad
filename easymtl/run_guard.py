"""What keeps a training run safe: one run per model_dir, one evaluation (and what it
writes) at a time per model_dir, a clean stop on signals, and no trace left by a run that
fails before its first checkpoint."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import threading

from easymtl.errors import EasymtlError

log = logging.getLogger("easymtl")


class Interrupted(EasymtlError):
    """Training stopped on SIGTERM or SIGINT after saving a checkpoint."""

    def __init__(self, signum: int, message: str):
        self.signum = signum
        super().__init__(message)


class ModelDirLock:
    """An exclusive lock on model_dir/.lock while a run trains.

    A second run on the same model_dir fails at once, naming the holder's pid. The lock
    is an flock: the OS releases it when the holder exits or is killed, so a crashed run
    never leaves it stuck. Taking it removes the temporary files of a killed run's
    atomic writes (see :func:`easymtl.disk.write_text`).
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
        # Imported here: easymtl.disk imports TensorFlow, which the CLI loads after its checks.
        from easymtl.disk import remove_stale_temporaries

        remove_stale_temporaries(os.path.dirname(self.path))
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class EvaluationLock:
    """An exclusive lock on model_dir/.eval.lock while this process evaluates a
    checkpoint of model_dir and writes what follows from it: eval_result.json, eval/
    events, eval_history.jsonl, best/ and exports (and while it exports otherwise).

    Unlike :class:`ModelDirLock`, another process waits for its turn instead of failing:
    a trainer and a continuous evaluator take turns on one model_dir. It is an flock,
    which the OS releases when its holder exits or is killed; re-entrant within a
    process (an export inside an evaluation takes it again).

    Example:
        with EvaluationLock(model_dir):
            ...  # evaluate, record, export
    """

    _held: dict[str, list] = {}  # path -> [open file, depth] in this process

    def __init__(self, model_dir: str):
        self.model_dir = model_dir
        self.path = os.path.abspath(os.path.join(model_dir, ".eval.lock"))

    @classmethod
    def held(cls, model_dir: str) -> bool:
        """Whether this process holds the lock of model_dir."""
        return os.path.abspath(os.path.join(model_dir, ".eval.lock")) in cls._held

    def __enter__(self) -> EvaluationLock:
        held = self._held.get(self.path)
        if held is not None:
            held[1] += 1
            return self
        # model_dir exists: there is a checkpoint to evaluate or export.
        f = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            log.info(
                "model_dir %s: waiting for pid %s to finish its evaluation or export",
                self.model_dir,
                holder,
            )
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._held[self.path] = [f, 1]
        return self

    def __exit__(self, *exc) -> None:
        held = self._held[self.path]
        held[1] -= 1
        if held[1]:
            return
        del self._held[self.path]
        fcntl.flock(held[0], fcntl.LOCK_UN)
        held[0].close()


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


class UndoOnFailure:
    """Leaves model_dir as it was when a run fails before saving its first checkpoint.

    Whatever the run created (files, directories, model_dir itself if it was new) is
    removed; nothing that existed before is touched. Once the run calls :meth:`keep`
    (after a checkpoint is saved) everything stays, since a later run resumes from it.
    """

    def __init__(self, model_dir: str):
        self.model_dir = model_dir
        self._before: set[str] | None = None
        self._keep = False

    def __enter__(self) -> UndoOnFailure:
        self._before = _paths(self.model_dir) if os.path.isdir(self.model_dir) else None
        return self

    @property
    def kept(self) -> bool:
        return self._keep

    def keep(self) -> None:
        self._keep = True

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or self._keep:
            return
        if self._before is None:
            shutil.rmtree(self.model_dir, ignore_errors=True)
            return
        # Deepest paths first, so that a new directory is empty when it is removed.
        for path in sorted(_paths(self.model_dir) - self._before, reverse=True):
            full = os.path.join(self.model_dir, path)
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full, ignore_errors=True)
            elif os.path.lexists(full):
                os.remove(full)


def _paths(root: str) -> set[str]:
    """Every file and directory under `root`, relative to it."""
    found = set()
    for parent, dirs, files in os.walk(root):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(parent, name), root))
    return found
