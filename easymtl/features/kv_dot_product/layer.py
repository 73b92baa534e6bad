"""The dot product of two key:value columns → a number per row."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.base import BuiltFeature, one_feature
from easymtl.features.kv_dot_product import kv_inputs
from easymtl.features.raw_feature.layer import RawFeature, to_number
from easymtl.features.sequence_items import sequence_items


@keras.saving.register_keras_serializable(package="easymtl")
class KvDotProduct(keras.layers.Layer):
    """The dot product of a query's and a document's key:value items, as TorchEasyRec's
    kv_dot_product: the sum, over the pairs of items with equal keys, of their values'
    product. An item without `kv_delimiter` (or whose value is not a number) has value
    1, so two lists of keys give the size of their intersection (``a|b|c`` · ``a|b|d``
    = 2). A row with an empty query or document is `default_value`.

    Args:
        separator: Separator of a cell's items (or list columns of items).
        kv_delimiter: Separator of an item's key and value (the last one in the item).
        default_value: The value of a row with an empty side.
        boundaries, normalizer: As for
            :class:`~easymtl.features.raw_feature.layer.RawFeature`.

    Call takes ``[query, document]`` and returns [batch, 1] floats, or with `boundaries`
    ragged bucket ids [batch, (1)].

    Example:
        >>> f = KvDotProduct(separator="|")
        >>> f([tf.constant(["a:0.5|b:0.5"]), tf.constant(["d:0.5|b:0.5"])]).numpy()
        array([[0.25]], dtype=float32)
    """

    def __init__(
        self,
        separator: str = "\x1d",
        kv_delimiter: str = ":",
        default_value: float = 0.0,
        boundaries: list[float] | None = None,
        normalizer: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not separator or not kv_delimiter or separator == kv_delimiter:
            raise ValueError(
                "`separator` and `kv_delimiter` must be different and not empty. "
                f"Received: {separator!r}, {kv_delimiter!r}"
            )
        self.separator = separator
        self.kv_delimiter = kv_delimiter
        self.values = RawFeature(
            boundaries=boundaries, normalizer=normalizer, default_value=default_value,
            name="values",
        )  # fmt: skip

    @property
    def num_ids(self) -> int | None:
        """Rows of the embedding table (with boundaries), else None (a dense value)."""
        return self.values.num_ids

    def build(self, input_shape=None):
        self.values.build(None)

    def _items(self, x):
        """(keys [batch, n] strings, values [batch, n] floats, valid [batch, n])."""
        items = sequence_items(x, self.separator)
        if items.dtype != tf.string:
            items = items.with_flat_values(tf.strings.as_string(items.flat_values))
        flat = items.flat_values
        d = self.kv_delimiter
        has_value = tf.strings.regex_full_match(flat, f".*{_escape(d)}.*")
        keys = tf.where(
            has_value, tf.strings.regex_replace(flat, f"{_escape(d)}[^{_escape(d)}]*$", ""), flat
        )
        values = to_number(tf.strings.regex_replace(flat, f"^.*{_escape(d)}", ""))
        values = tf.where(has_value & ~tf.math.is_nan(values), values, 1.0)
        lengths = items.row_lengths()
        keys = items.with_flat_values(keys).to_tensor("")
        values = items.with_flat_values(values).to_tensor(0.0)
        return keys, values, tf.sequence_mask(lengths, tf.shape(keys)[1]), lengths

    def call(self, inputs):
        qk, qv, q_valid, q_len = self._items(inputs[0])
        dk, dv, d_valid, d_len = self._items(inputs[1])
        same = tf.equal(qk[:, :, None], dk[:, None, :]) & q_valid[:, :, None] & d_valid[:, None, :]
        products = qv[:, :, None] * dv[:, None, :]
        dot = tf.reduce_sum(tf.where(same, products, 0.0), axis=[1, 2])
        empty = (q_len == 0) | (d_len == 0)
        return self.values(tf.where(empty, float("nan"), dot))

    def get_config(self):
        return {
            **super().get_config(),
            "separator": self.separator,
            "kv_delimiter": self.kv_delimiter,
            "default_value": self.values.default_value,
            "boundaries": self.values.boundaries,
            "normalizer": self.values.normalizer,
        }


def _escape(text: str) -> str:
    return "".join(f"\\{c}" if not c.isalnum() else c for c in text)


def build_kv_dot_product(f, feature_configs=None) -> list[BuiltFeature]:
    """The layer of a KvDotProduct message: embedded with boundaries, else dense."""
    layer = KvDotProduct(
        separator=f.separator,
        kv_delimiter=f.kv_delimiter,
        default_value=float(f.default_value),
        boundaries=list(f.boundaries),
        normalizer=f.normalizer if f.HasField("normalizer") else None,
        name=f.feature_name,
    )
    dim = f.embedding_dim if f.boundaries else None
    return one_feature(f, layer, dim, columns=[c for _, c in kv_inputs(f)])
