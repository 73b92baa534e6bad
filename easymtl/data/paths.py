"""Input paths as configs and flags give them: a path, a comma-separated list, globs."""

from __future__ import annotations

import glob
import os

from easymtl.errors import EasymtlError


def expand_paths(spec: str, field: str) -> list[str]:
    """Files named by a path, a comma-separated list of paths, or globs. Local paths are
    matched without TensorFlow (so that a wrong path fails fast); a URL-style path
    (``gs://...``, ``hdfs://...``) through TensorFlow's file systems.

    Raises:
        EasymtlError: `spec` is empty or some part matches no file.
    """
    if not spec.strip():
        raise EasymtlError(f"{field}: no input path given")
    files: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if "://" in part:
            import tensorflow as tf

            matched = [m for m in sorted(tf.io.gfile.glob(part)) if not tf.io.gfile.isdir(m)]
        else:
            matched = [m for m in sorted(glob.glob(part)) if not os.path.isdir(m)]
        if not matched:
            where = (
                "" if os.path.isabs(part) else f" (relative to the current directory {os.getcwd()})"
            )
            raise EasymtlError(f"{field}: no file matches {part!r}{where}")
        files.extend(matched)
    return files
