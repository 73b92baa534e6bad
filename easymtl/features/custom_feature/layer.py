"""TorchEasyRec feature-generator operators computed in the model: EditDistance and
RegexReplace."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.base import BuiltFeature, one_feature
from easymtl.features.custom_feature import custom_inputs, params
from easymtl.features.id_feature.layer import IdFeature
from easymtl.features.raw_feature.layer import RawFeature


@keras.saving.register_keras_serializable(package="easymtl")
class EditDistance(keras.layers.Layer):
    """The edit (Levenshtein) distance of two string columns, as TorchEasyRec's
    EditDistance operator: the fewest insertions, deletions and substitutions of
    characters (``encoding: "utf-8"``) or bytes (``"latin"``) that turn one into the
    other.

    Args:
        encoding: "utf-8" or "latin".
        default_value, boundaries, normalizer: As for
            :class:`~easymtl.features.raw_feature.layer.RawFeature`.

    Call takes ``[a, b]`` and returns [batch, 1] floats, or with `boundaries` ragged
    bucket ids [batch, (1)].

    Example:
        >>> EditDistance()([tf.constant(["kitten"]), tf.constant(["sitting"])]).numpy()
        array([[3.]], dtype=float32)
    """

    def __init__(
        self,
        encoding: str = "latin",
        default_value: float = 0.0,
        boundaries: list[float] | None = None,
        normalizer: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if encoding not in ("utf-8", "latin"):
            raise ValueError(f"`encoding` must be 'utf-8' or 'latin'. Received: {encoding!r}")
        self.encoding = encoding
        self.values = RawFeature(
            boundaries=boundaries, normalizer=normalizer, default_value=default_value,
            name="values",
        )  # fmt: skip

    @property
    def num_ids(self) -> int | None:
        return self.values.num_ids

    def build(self, input_shape=None):
        self.values.build(None)

    def _units(self, x) -> tf.SparseTensor:
        if x.dtype != tf.string:
            x = tf.strings.as_string(x)
        x = tf.reshape(x, [-1])
        if self.encoding == "utf-8":
            units = tf.strings.unicode_split(x, "UTF-8", errors="replace")
        else:
            units = tf.strings.bytes_split(x)
        return units.to_sparse()

    def call(self, inputs):
        a, b = (self._units(x) for x in inputs)
        # [batch]: edit_distance's static shape is unknown (its sparse inputs' is), which
        # a dense embedding (autodis, mlp) after it cannot build on.
        distance = tf.reshape(tf.edit_distance(a, b, normalize=False), [-1])
        return self.values(tf.cast(distance, tf.float32))

    def get_config(self):
        return {
            **super().get_config(),
            "encoding": self.encoding,
            "default_value": self.values.default_value,
            "boundaries": self.values.boundaries,
            "normalizer": self.values.normalizer,
        }


@keras.saving.register_keras_serializable(package="easymtl")
class RegexReplace(keras.layers.Layer):
    """A string column with every match of `pattern` (RE2 syntax) replaced by
    `replacement` (TorchEasyRec's RegexReplace operator), then ids as
    :class:`~easymtl.features.id_feature.layer.IdFeature` makes them.

    Args:
        pattern: The regular expression.
        replacement: What replaces each match.
        **id_args: The IdFeature arguments.

    Example:
        >>> f = RegexReplace("[0-9]+", "#", vocab_list=["a#b"])
        >>> f(tf.constant(["a12b", "xy"])).to_list()
        [[1], [0]]
    """

    def __init__(self, pattern: str, replacement: str, **id_args):
        kwargs = {k: id_args.pop(k) for k in list(id_args) if k in ("name", "dtype", "trainable")}
        super().__init__(**kwargs)
        self.pattern = pattern
        self.replacement = replacement
        self.id_args = dict(id_args)
        self.ids = IdFeature(**self.id_args, name="ids")

    @property
    def num_ids(self) -> int:
        return self.ids.num_ids

    def build(self, input_shape=None):
        self.ids.build(None)

    def call(self, x):
        if x.dtype != tf.string:
            x = tf.strings.as_string(x)
        return self.ids(tf.strings.regex_replace(x, self.pattern, self.replacement))

    def get_config(self):
        return {
            **super().get_config(),
            "pattern": self.pattern,
            "replacement": self.replacement,
            **self.id_args,
        }


def build_custom_feature(f, feature_configs=None) -> list[BuiltFeature]:
    """The layer of a CustomFeature message whose operator easymtl computes."""
    from easymtl.features.id_feature.layer import id_args

    columns = [c for _, c in custom_inputs(f)]
    p = params(f)
    if f.operator_name == "RegexReplace":
        layer = RegexReplace(p["regex_patten"], p["replacement"], **id_args(f), name=f.feature_name)
        return one_feature(f, layer, f.embedding_dim, columns=columns[0])
    layer = EditDistance(
        encoding=p.get("encoding", "latin"),
        default_value=float(f.default_value),
        boundaries=list(f.boundaries),
        normalizer=f.normalizer if f.HasField("normalizer") else None,
        name=f.feature_name,
    )
    dim = f.embedding_dim if f.boundaries else None
    return one_feature(f, layer, dim, columns=columns)
