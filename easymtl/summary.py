"""TensorBoard summaries without a dependency on the tensorboard package.

``tf.summary.scalar`` lives in tensorboard, which the CPU TensorFlow wheel does not
install; the event files it writes are plain ``tf.summary.write`` calls with the scalar
plugin's metadata, which is all this does. TensorBoard reads them as usual.
"""

from __future__ import annotations

import os
import re

import tensorflow as tf
from tensorflow.core.framework import summary_pb2
from tensorflow.core.util import event_pb2

from easymtl.disk import write_error

_SCALAR = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
).SerializeToString()


def scalar(name: str, value: float, step: int) -> None:
    """Writes one scalar to the default summary writer (as tf.summary.scalar does).

    Raises:
        EasymtlError: the event file cannot be written (no space, permission, I/O).
    """
    try:
        tf.summary.write(name, tf.constant(value, tf.float32), step=step, metadata=_SCALAR)
    except tf.errors.OpError as e:
        raise _error(e) from None


def file_writer(logdir: str):
    """``tf.summary.create_file_writer(logdir)``; raises one line if it cannot be written."""
    try:
        return tf.summary.create_file_writer(logdir)
    except tf.errors.OpError as e:
        raise _error(e) from None


def flush(writer) -> None:
    """Flushes `writer`'s event file; raises one line if it cannot be written."""
    try:
        writer.flush()
    except tf.errors.OpError as e:
        raise _error(e) from None


def _error(error: tf.errors.OpError):
    # TensorFlow's message reads "{{function_node ...}} <event file>; <cause>".
    first = re.sub(r"\{\{[^}]*\}\}\s*", "", error.message).strip().splitlines()[0]
    path = first.rsplit("; ", 1)[0] if "; " in first else "?"
    return write_error("TensorBoard event file", path, error)


def steps(logdir: str, tag: str) -> set[int]:
    """The steps at which the event files in `logdir` hold a value of `tag`."""
    return set(points(logdir).get(tag, {}))


def points(logdir: str) -> dict[str, dict[int, float]]:
    """Every scalar the event files in `logdir` hold: tag -> step -> value (the last
    written where a step has several)."""
    if not tf.io.gfile.isdir(logdir):
        return {}
    found: dict[str, dict[int, float]] = {}
    for name in sorted(tf.io.gfile.listdir(logdir)):
        if "tfevents" not in name:
            continue
        for record in tf.data.TFRecordDataset(os.path.join(logdir, name)):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.HasField("tensor"):
                    number = float(tf.make_ndarray(value.tensor))
                else:
                    number = float(value.simple_value)
                found.setdefault(value.tag, {})[int(event.step)] = number
    return found
