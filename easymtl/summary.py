"""TensorBoard summaries without a dependency on the tensorboard package.

``tf.summary.scalar`` lives in tensorboard, which the CPU TensorFlow wheel does not
install; the event files it writes are plain ``tf.summary.write`` calls with the scalar
plugin's metadata, which is all this does. TensorBoard reads them as usual.
"""

from __future__ import annotations

import os

import tensorflow as tf
from tensorflow.core.framework import summary_pb2
from tensorflow.core.util import event_pb2

_SCALAR = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
).SerializeToString()


def scalar(name: str, value: float, step: int) -> None:
    """Writes one scalar to the default summary writer (as tf.summary.scalar does)."""
    tf.summary.write(name, tf.constant(value, tf.float32), step=step, metadata=_SCALAR)


def steps(logdir: str, tag: str) -> set[int]:
    """The steps at which the event files in `logdir` hold a value of `tag`."""
    if not tf.io.gfile.isdir(logdir):
        return set()
    found = set()
    for name in tf.io.gfile.listdir(logdir):
        if "tfevents" not in name:
            continue
        for record in tf.data.TFRecordDataset(os.path.join(logdir, name)):
            event = event_pb2.Event.FromString(record.numpy())
            if any(v.tag == tag for v in event.summary.value):
                found.add(int(event.step))
    return found
