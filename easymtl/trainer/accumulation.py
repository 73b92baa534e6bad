"""Gradient accumulation (train_config.gradient_accumulation_steps, TorchEasyRec's): the
optimizers run once every N batches, on the mean of their gradients.

The dense gradients are summed into one float32 buffer per variable; an embedding
table's row gradients are summed into a buffer of the table's shape at the rows a batch
touched, and the rows touched are marked, so that the update applies to exactly those
rows (a row-wise optimizer, lazy Adam above all, must not see the untouched ones). N
batches of B rows thus give the optimizers the gradients one batch of N x B rows would
(the losses being batch means), whatever the optimizer. The buffers are the train
state's, not checkpointed: a window not complete at the end of a run is not applied.
"""

from __future__ import annotations

import tensorflow as tf


class GradientAccumulator:
    """Sums the gradients of `steps` batches; hands on their mean when the window is full.

    Args:
        steps: Batches per update (>= 2).
        embedding_vars: The embedding tables (or their shards), whose gradients come as
            IndexedSlices (or dense tensors), in the order of the gradients.
        dense_vars: The other variables, after them.

    Example:
        ```python
        acc = GradientAccumulator(2, [table], [kernel])
        acc.add([table_grad, kernel_grad])
        acc.add([table_grad, kernel_grad])
        assert bool(acc.ready())
        table_mean, kernel_mean = acc.mean()
        acc.reset()
        ```
    """

    def __init__(self, steps: int, embedding_vars: list, dense_vars: list):
        if steps < 2:
            raise ValueError(f"`steps` must be at least 2. Received: {steps}")
        self.steps = steps
        self.count = tf.Variable(0, dtype=tf.int64, trainable=False, name="accumulated")
        self.rows = [
            tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False, name="accumulated_rows")
            for v in embedding_vars
        ]
        self.touched = [
            tf.Variable(tf.zeros([v.shape[0]], tf.bool), trainable=False, name="touched_rows")
            for v in embedding_vars
        ]
        self.dense = [
            tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False, name="accumulated")
            for v in dense_vars
        ]
        self._present: list[bool] | None = None

    def add(self, gradients: list) -> None:
        """Adds one batch's gradients (one per variable, tables first; None for a
        variable the loss does not reach)."""
        n = len(self.rows)
        self._present = [g is not None for g in gradients]
        for buffer, touched, grad in zip(self.rows, self.touched, gradients[:n]):
            if grad is None:
                continue
            if isinstance(grad, tf.IndexedSlices):
                indices = tf.cast(grad.indices, tf.int64)
                buffer.scatter_add(tf.IndexedSlices(grad.values, indices))
                touched.scatter_update(
                    tf.IndexedSlices(tf.ones_like(indices, dtype=tf.bool), indices)
                )
            else:
                buffer.assign_add(grad)
                touched.assign(tf.ones_like(touched))
        for buffer, grad in zip(self.dense, gradients[n:]):
            if grad is not None:
                buffer.assign_add(tf.convert_to_tensor(grad))
        self.count.assign_add(1)

    def ready(self) -> tf.Tensor:
        """Whether the window is full (a scalar bool)."""
        return self.count >= self.steps

    def mean(self) -> list:
        """The mean gradient of the window: IndexedSlices of the touched rows of each
        table, then one tensor per dense variable (None where :meth:`add` had None)."""
        count = tf.cast(self.count, tf.float32)
        means = []
        for buffer, touched in zip(self.rows, self.touched):
            rows = tf.where(touched)[:, 0]
            values = tf.gather(buffer, rows) / count
            means.append(tf.IndexedSlices(values, rows, tf.shape(buffer, out_type=tf.int64)))
        means += [buffer / count for buffer in self.dense]
        present = self._present or [True] * len(means)
        return [m if p else None for m, p in zip(means, present)]

    def reset(self) -> None:
        """Empties the window (only the touched rows of the tables are zeroed)."""
        for buffer, touched in zip(self.rows, self.touched):
            rows = tf.where(touched)[:, 0]
            zeros = tf.zeros(tf.concat([tf.shape(rows), tf.shape(buffer)[1:]], 0), buffer.dtype)
            buffer.scatter_update(tf.IndexedSlices(zeros, rows))
            touched.assign(tf.zeros_like(touched))
        for buffer in self.dense:
            buffer.assign(tf.zeros_like(buffer))
        self.count.assign(0)
