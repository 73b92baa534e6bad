"""TensorBoard summaries without a dependency on the tensorboard package.

``tf.summary.scalar`` lives in tensorboard, which the CPU TensorFlow wheel does not
install; the event files it writes are plain ``tf.summary.write`` calls with the scalar
plugin's metadata, which is all this does. TensorBoard reads them as usual.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

_SCALAR = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
).SerializeToString()


def scalar(name: str, value: float, step: int) -> None:
    """Writes one scalar to the default summary writer (as tf.summary.scalar does)."""
    tf.summary.write(name, tf.constant(value, tf.float32), step=step, metadata=_SCALAR)
