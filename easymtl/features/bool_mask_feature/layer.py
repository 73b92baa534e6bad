"""Values kept by a true/false mask → ragged ids."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.base import BuiltFeature, one_feature
from easymtl.features.bool_mask_feature import bool_mask_inputs
from easymtl.features.id_feature.layer import IdFeature
from easymtl.features.sequence_items import sequence_items

_TRUE = r"\s*(?i:true|1|1\.0*)\s*"


@keras.saving.register_keras_serializable(package="easymtl")
class BoolMaskFeature(keras.layers.Layer):
    """The values of a cell kept where the mask cell's flags are true, as
    ``tf.boolean_mask`` (TorchEasyRec's bool_mask_feature), then ids as
    :class:`~easymtl.features.id_feature.layer.IdFeature` makes them.

    Both cells hold values joined by `separator` (or are list columns); the i-th flag
    masks the i-th value. A flag is true where it is ``true`` (any case) or a nonzero
    number; a value without a flag is dropped. A row that keeps no value takes
    `default_value` where given, else has no ids (its embedding is zeros).

    Args:
        separator: Separator of a cell's values and flags.
        **id_args: The IdFeature arguments (hash_bucket_size, num_buckets, vocab_list,
            vocab_dict, default_bucketize_value, default_value).

    Call takes ``[values, mask]`` and returns ragged int64 ids [batch, (ids)].

    Example:
        >>> f = BoolMaskFeature(separator=",", num_buckets=1000)
        >>> f([tf.constant(["123,456,90"]), tf.constant(["true,false,true"])]).to_list()
        [[123, 90]]
    """

    def __init__(self, separator: str = "\x1d", **id_args):
        kwargs = {k: id_args.pop(k) for k in list(id_args) if k in ("name", "dtype", "trainable")}
        super().__init__(**kwargs)
        if not separator:
            raise ValueError("`separator` must not be empty.")
        self.separator = separator
        self.id_args = dict(id_args)
        self.default_value = self.id_args.get("default_value")
        self.ids = IdFeature(**{**self.id_args, "default_value": None}, name="ids")

    @property
    def num_ids(self) -> int:
        """Rows of the embedding table this feature needs."""
        return self.ids.num_ids

    def build(self, input_shape=None):
        self.ids.build(None)

    def _kept(self, values, mask) -> tf.RaggedTensor:
        values = sequence_items(values, self.separator)
        flags = sequence_items(mask, self.separator)
        if flags.dtype == tf.string:
            flags = flags.with_flat_values(tf.strings.regex_full_match(flags.flat_values, _TRUE))
        else:
            flags = flags.with_flat_values(tf.not_equal(flags.flat_values, 0))
        n = tf.minimum(values.row_lengths(), flags.row_lengths())
        position = tf.ragged.range(values.row_lengths())
        last = tf.maximum(n - 1, 0)[:, None]
        flag = tf.gather(flags.to_tensor(False), tf.minimum(position, last), batch_dims=1)
        return tf.ragged.boolean_mask(values, flag & (position < n[:, None]))

    def call(self, inputs):
        kept = self._kept(*inputs)
        if kept.dtype != tf.string:
            kept = kept.with_flat_values(tf.strings.as_string(kept.flat_values))
        if self.default_value is not None:
            # A row that keeps nothing takes default_value, in a column put in front.
            empty = kept.row_lengths() == 0
            values = tf.concat([tf.fill([kept.nrows(), 1], self.default_value),
                                kept.to_tensor("")], axis=1)  # fmt: skip
            valid = tf.sequence_mask(kept.row_lengths(), tf.shape(values)[1] - 1)
            kept = tf.ragged.boolean_mask(values, tf.concat([empty[:, None], valid], axis=1))
        per_value = self.ids(kept.flat_values)  # [values, (0 or 1 id)]
        return tf.RaggedTensor.from_row_splits(
            per_value.flat_values, tf.gather(per_value.row_splits, kept.row_splits), validate=False
        )

    def get_config(self):
        return {**super().get_config(), "separator": self.separator, **self.id_args}


def build_bool_mask_feature(f, feature_configs=None) -> list[BuiltFeature]:
    """The layer of a BoolMaskFeature message, embedded with its embedding_dim."""
    from easymtl.features.id_feature.layer import id_args

    layer = BoolMaskFeature(separator=f.separator, **id_args(f), name=f.feature_name)
    return one_feature(f, layer, f.embedding_dim, columns=[c for _, c in bool_mask_inputs(f)])
