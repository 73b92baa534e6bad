"""Small files of model_dir written so that a kill never leaves one half-written."""

from __future__ import annotations

import json
import logging
import os

log = logging.getLogger("easymtl")


def write_json(path: str, value) -> None:
    """Writes `value` as JSON to a temporary file beside `path`, then renames it into
    place: a reader sees the old file or the new one, never a part."""
    write_text(path, json.dumps(value, indent=2) + "\n")


def write_text(path: str, text: str) -> None:
    """Writes `text` to `path` atomically (a temporary file, fsync, rename)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: str, default=None):
    """The JSON value of `path`, or `default` if there is no such file."""
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


def remove_stale_temporaries(directory: str) -> None:
    """Removes ``*.tmp-<pid>`` files that a killed writer left in `directory`."""
    if not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        if ".tmp-" in name and os.path.isfile(os.path.join(directory, name)):
            os.remove(os.path.join(directory, name))
