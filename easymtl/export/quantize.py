"""Embedding tables stored in less precision in an export (export_config.
embedding_quantization): INT8 rows with a float32 scale and offset each, or bfloat16.

:func:`quantized_tables` swaps each table's row lookup for one that reads the smaller
copy while the serving function is traced, so that the SavedModel holds (and its
signature reads) only the copies; the model itself is left as it was.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf


class Int8Rows(tf.Module):
    """A table's rows as uint8 codes with a float32 scale and offset per row:
    ``row ≈ code * scale + offset`` (asymmetric, per row, as fbgemm's and
    TorchEasyRec's INT8 tables), so a row's error is at most half its range / 255."""

    def __init__(self, table: tf.Tensor):
        super().__init__()
        low = tf.reduce_min(table, axis=1)
        high = tf.reduce_max(table, axis=1)
        scale = (high - low) / 255.0
        safe = tf.where(scale > 0, scale, 1.0)
        codes = tf.round((table - low[:, None]) / safe[:, None])
        self.codes = tf.Variable(tf.cast(codes, tf.uint8), trainable=False, name="codes")
        self.scale = tf.Variable(scale, trainable=False, name="scale")
        self.offset = tf.Variable(low, trainable=False, name="offset")

    def __call__(self, ids):
        codes = tf.cast(tf.gather(self.codes, ids), tf.float32)
        return codes * tf.gather(self.scale, ids)[:, None] + tf.gather(self.offset, ids)[:, None]


class Bf16Rows(tf.Module):
    """A table's rows in bfloat16 (8 bits of mantissa), read back as float32."""

    def __init__(self, table: tf.Tensor):
        super().__init__()
        self.rows = tf.Variable(tf.cast(table, tf.bfloat16), trainable=False, name="rows")

    def __call__(self, ids):
        return tf.cast(tf.gather(self.rows, ids), tf.float32)


STORAGE = {"INT8": Int8Rows, "BF16": Bf16Rows}


@contextlib.contextmanager
def quantized_tables(model, quantization: str):
    """Inside, every embedding table of `model` looks its rows up in a `quantization`
    ("INT8", "BF16"; "": unchanged) copy; yields the copies (tf.Modules to track)."""
    if not quantization:
        yield []
        return
    tables = list(model.features.tables.values())
    copies = [STORAGE[quantization](tf.convert_to_tensor(t.embeddings)) for t in tables]
    for table, copy in zip(tables, copies):
        table.serving_rows = copy
    try:
        yield copies
    finally:
        for table in tables:
            table.serving_rows = None
