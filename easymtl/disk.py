"""Writes that fail cleanly: a full disk, a permission or an I/O error while writing
becomes one line naming what was being written, the error and the free space, and
leaves no temporary file behind."""

from __future__ import annotations

import json
import math
import os
import re
import shutil

import tensorflow as tf

from easymtl.errors import EasymtlError

# What a failed write raises: Python's own file calls, and TensorFlow's file ops
# (SaveV2, the summary writer, SavedModel) with the OS error in their message.
WRITE_ERRORS = (OSError, tf.errors.OpError)


def size_text(num_bytes: float) -> str:
    """``1.5 GB``-style size (powers of 1000, as ``df -H`` prints)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(num_bytes) < 1000 or unit == "TB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1000
    raise AssertionError("unreachable")


def free_bytes(path: str) -> int | None:
    """Free bytes on the file system of `path` (or of its nearest existing parent)."""
    path = os.path.abspath(path)
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def reason(error: BaseException) -> str:
    """The OS-level cause of a failed write, e.g. ``No space left on device``."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    message = getattr(error, "message", None) or str(error)
    message = re.sub(r"\{\{[^}]*\}\}\s*", "", message).strip().splitlines()[0]
    message = re.sub(r"\s*\[Op:\w+\]$", "", message).strip()
    # TensorFlow's file errors read "<path>; <cause>".
    return message.rsplit("; ", 1)[-1] if "; " in message else message


def write_error(what: str, path: str, error: BaseException, tail: str = "") -> EasymtlError:
    """One line: writing `what` at `path` failed, why, and how much space is free."""
    free = free_bytes(path)
    space = f"; {size_text(free)} free there" if free is not None else ""
    return EasymtlError(
        f"{what} {path!r}: cannot be written: {reason(error)}{space}{tail}. Free space "
        "(or fix the permission) and run the same command again"
    )


def write_text(path: str, text: str, what: str) -> None:
    """Writes `text` to a temporary file beside `path`, flushes it to disk, then renames
    it into place: a reader (or a rerun after a kill) sees the old file or the new one,
    never a part. On a failure removes the temporary file and raises one line.

    Raises:
        EasymtlError: the file cannot be written (no space, permission, I/O error).
    """
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if os.path.lexists(tmp):
            os.remove(tmp)
        raise write_error(what, path, e) from None


def json_text(value, indent: int | None = 2) -> str:
    """`value` as standard JSON: a NaN or infinite float (an undefined metric, a
    diverged loss) is written as null, which every JSON reader accepts."""
    return json.dumps(_finite(value), indent=indent, allow_nan=False)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_json(path: str, value, what: str) -> None:
    """Writes `value` as JSON (see :func:`json_text`) through :func:`write_text`."""
    write_text(path, json_text(value) + "\n", what)


def read_json(path: str, default=None):
    """The JSON value of `path`, or `default` if there is no such file."""
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


def remove_stale_temporaries(directory: str) -> None:
    """Removes the ``*.tmp-<pid>`` files that a killed writer left in `directory`: those
    whose pid is not a live process on this host (a live writer's file is its own)."""
    if not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        _, sep, pid = name.rpartition(".tmp-")
        if sep and os.path.isfile(path) and not (pid.isdigit() and _alive(int(pid))):
            os.remove(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove(path: str) -> None:
    """Removes a file or a directory tree, if it is there."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)
