"""Categorical features: raw ids (strings or ints) → ragged int64 embedding row ids."""

from __future__ import annotations

import logging

import keras
import numpy as np
import tensorflow as tf

from easymtl.features.base import BuiltFeature, one_feature, zch_kind
from easymtl.features.ragged import from_value_rowids, kept_rows, true_positions
from easymtl.features.vocab import Vocabulary, read_vocab_file, vocab_mapping
from easymtl.features.zch import KEYS, dynamicemb_args, zch_args

# Hash space of the exact vocabulary lookup (Fingerprint64 modulo this).
_HASH_SPACE = 2**63 - 1
# A weighted item: an id, a colon and a number (the id may hold colons itself).
WEIGHTED_ITEM = r".+:\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*"


@keras.saving.register_keras_serializable(package="easymtl")
class IdFeature(keras.layers.Layer):
    """Turns a raw id column into ragged embedding row ids, one list per example.

    Exactly one of `hash_bucket_size`, `num_buckets`, `vocab_list`, `vocab_dict`, `zch`
    says how a value becomes a row id (a vocabulary's rows:
    :func:`~easymtl.features.vocab.vocab_mapping`); with `zch` it becomes a 64-bit key
    (its fingerprint), which the feature's
    :class:`~easymtl.features.zch.ZchEmbeddingTable` maps to a row. With a `separator`,
    a value holds several ids (a tag list); empty tokens are dropped. A list column
    ([batch, longest list], padded with "", -1 or NaN) holds several ids per example as
    it is: its values are the ids, without splitting, and the padding is dropped. An
    empty value (or list) takes `default_value` when given, else it has no ids (its
    embedding is zeros).

    With `weighted`, each id comes with a weight, as ``"id:weight"`` items (``"a:0.5|b:2"``
    with separator "|", or a list column of such items), and call returns ``(ids,
    weights)``, both ragged alike; the embeddings are pooled weighted. An item that is not
    ``id:weight`` is dropped (:meth:`cell_checks` finds such cells in training data). A
    `default_value` without a weight has weight 1.

    Args:
        hash_bucket_size: Hash the value (as a string) into this many rows.
        num_buckets: The value is an integer in [0, num_buckets); other values have no id.
        vocab_list: A vocabulary: value at position i → row i + 2, `default_value` → row
            0, unknown values → row 1
            (with `default_bucketize_value`: row i, unknown → that row).
        vocab_dict: A vocabulary of value → row; the `default_value` → row 0 and unknown
            values → row 1 (with `default_bucketize_value`: unknown → that row).
        default_bucketize_value: The row of values outside the vocabulary.
        separator: Separator of a multi-value string (TorchEasyRec's default, and the
            config's: "\x1d"); a number (an int or float column) is one value.
        default_value: Value used where the input is empty.
        weighted: The values are ``id:weight`` items.
        zch: The arguments of the feature's zero-collision table
            (:class:`~easymtl.features.zch.ZchEmbeddingTable`, ``num_rows`` included).
        first_only: Keep each row's first id only (TorchEasyRec's ``value_dim: 1``).

    Example:
        >>> f = IdFeature(hash_bucket_size=10, separator="|")
        >>> f(tf.constant(["a|b", ""])).row_lengths().numpy()
        array([2, 0])
        >>> f(tf.constant([["a", "b"], ["", ""]])).row_lengths().numpy()
        array([2, 0])
        >>> IdFeature(vocab_dict={"a": 2, "b": 3})(tf.constant(["b", "x"])).to_list()
        [[3], [1]]
    """

    def __init__(
        self,
        hash_bucket_size: int | None = None,
        num_buckets: int | None = None,
        vocab_list: list[str] | None = None,
        separator: str | None = None,
        default_value: str | None = None,
        vocab_dict: dict[str, int] | None = None,
        default_bucketize_value: int | None = None,
        weighted: bool = False,
        zch: dict | None = None,
        first_only: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        kinds = (hash_bucket_size, num_buckets, vocab_list, vocab_dict, zch)
        if sum(x is not None for x in kinds) != 1:
            raise ValueError(
                "Exactly one of `hash_bucket_size`, `num_buckets`, `vocab_list`, `vocab_dict`, "
                f"`zch` is needed. Received: {hash_bucket_size}, {num_buckets}, {vocab_list}, "
                f"{vocab_dict}, {zch}"
            )
        for name, value in (("hash_bucket_size", hash_bucket_size), ("num_buckets", num_buckets)):
            if value is not None and value <= 0:
                raise ValueError(f"`{name}` must be positive. Received: {value}")
        if separator == "":
            raise ValueError("`separator` must not be empty.")
        if default_bucketize_value is not None and vocab_list is None and vocab_dict is None:
            raise ValueError("`default_bucketize_value` needs `vocab_list` or `vocab_dict`.")
        self.hash_bucket_size = hash_bucket_size
        self.num_buckets = num_buckets
        self.vocab_list = list(vocab_list) if vocab_list is not None else None
        self.vocab_dict = dict(vocab_dict) if vocab_dict is not None else None
        self.default_bucketize_value = default_bucketize_value
        self.separator = separator
        self.default_value = default_value
        self.weighted = bool(weighted)
        self.zch = dict(zch) if zch is not None else None
        self.first_only = bool(first_only)
        self.vocabulary = (
            vocab_mapping(self.vocab_list, self.vocab_dict, default_bucketize_value, default_value)
            if vocab_list is not None or vocab_dict is not None
            else None
        )
        self._lookup = VocabLookup(self.vocabulary) if self.vocabulary is not None else None

    @property
    def num_ids(self) -> int:
        """Rows of the embedding table this feature needs."""
        if self.zch is not None:
            return self.zch["num_rows"]
        if self.hash_bucket_size is not None:
            return self.hash_bucket_size
        if self.num_buckets is not None:
            return self.num_buckets
        return self.vocabulary.rows

    def call(self, inputs):
        ids = self._all_ids(inputs)
        if not self.first_only:
            return ids
        if isinstance(ids, tuple):
            return ids[0][:, :1], ids[1][:, :1]
        return ids[:, :1]

    def _all_ids(self, inputs):
        x = inputs
        if self.weighted:
            return self._weighted_ids(x)
        if x.shape.rank == 2:
            return self._list_ids(x)
        numeric = x.dtype != tf.string
        if numeric and self.num_buckets is not None:
            # A number is one id, whatever the separator.
            ids = tf.cast(x, tf.int64)
            return _ragged_where(ids, (ids >= 0) & (ids < self.num_buckets))
        if numeric:
            x = tf.strings.as_string(x)
        if self.default_value is not None:
            x = tf.where(x == "", self.default_value, x)
        if self.separator is not None and not numeric:
            return split_tokens(x, self.separator, self._value_ids)
        return _ragged_where(*self._value_ids(x))

    def _list_ids(self, x):
        """Ids of a list column: its values, padding ("", -1 or NaN) dropped."""
        if x.dtype == tf.string:
            keep = x != ""
        elif x.dtype.is_floating:
            keep = tf.logical_not(tf.math.is_nan(x))
        else:
            keep = x != -1
        if x.dtype != tf.string and self.num_buckets is not None and self.default_value is None:
            ids = tf.cast(x, tf.int64)
            return _dense_where(ids, keep & (ids >= 0) & (ids < self.num_buckets))
        if x.dtype != tf.string:
            x = tf.strings.as_string(x)
        if self.default_value is not None:
            # An empty list gets one value: default_value in a column put in front.
            empty = tf.logical_not(tf.reduce_any(keep, axis=1, keepdims=True))
            x = tf.concat([tf.fill(tf.shape(empty), self.default_value), x], axis=1)
            keep = tf.concat([empty, keep], axis=1)
        return self._ids(_dense_where(x, keep))

    def _items(self, x) -> tf.RaggedTensor:
        """The ``id:weight`` items of each cell (string or list column), with an empty
        cell's default_value."""
        if x.dtype != tf.string:
            x = tf.strings.as_string(x)
        default = self.default_value
        if default is not None and ":" not in default:
            default += ":1"
        if x.shape.rank == 2:
            keep = x != ""
            if default is not None:
                empty = tf.logical_not(tf.reduce_any(keep, axis=1, keepdims=True))
                x = tf.concat([tf.fill(tf.shape(empty), default), x], axis=1)
                keep = tf.concat([empty, keep], axis=1)
            return tf.ragged.boolean_mask(x, keep)
        if default is not None:
            x = tf.where(x == "", default, x)
        if self.separator is None:
            return _ragged_where(x, x != "")
        return split_tokens(x, self.separator)

    def _weighted_ids(self, x):
        items = self._items(x)
        ok = tf.strings.regex_full_match(items.flat_values, WEIGHTED_ITEM)
        items = tf.ragged.boolean_mask(items, items.with_flat_values(ok))
        keys = items.with_flat_values(tf.strings.regex_replace(items.flat_values, ":[^:]*$", ""))
        weights = tf.strings.to_number(
            tf.strings.regex_replace(items.flat_values, "^.*:", ""), tf.float32
        )
        weights = items.with_flat_values(weights)
        if self.num_buckets is not None:
            # Ids outside num_buckets have no row: drop their weights with them.
            keep = keys.with_flat_values(_bucket_numbers(keys.flat_values, self.num_buckets)[1])
            keys = tf.ragged.boolean_mask(keys, keep)
            weights = tf.ragged.boolean_mask(weights, keep)
        return self._ids(keys), weights

    def _ids(self, tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        """Row ids of ragged string tokens (a number outside num_buckets is dropped)."""
        values = tokens.flat_values
        if self.zch is not None:
            return tokens.with_flat_values(tf.strings.to_hash_bucket_fast(values, KEYS))
        if self.hash_bucket_size is not None:
            ids = tf.strings.to_hash_bucket_fast(values, self.hash_bucket_size)
            return tokens.with_flat_values(ids)
        if self.num_buckets is not None:
            ids, keep = _bucket_numbers(values, self.num_buckets)
            # tf.ragged.boolean_mask would derive the row ids anew (five times the ops).
            return kept_rows(ids, tokens.value_rowids(), keep, tokens.nrows())
        return tokens.with_flat_values(self._lookup(values))

    def item_ids(self, values: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``(ids, has_id)`` of 1-D values, each one id (the feature has no separator and
        is not weighted): int64 ids [n] and whether each value has one (an empty value
        without default_value, or a number outside num_buckets, has none, and the id
        beside it is not one).
        What :meth:`call` gives as ragged ids, as two flat tensors, without moving any
        string."""
        if self.separator is not None or self.weighted:
            raise ValueError("`item_ids` reads one id per value: no separator, not weighted.")
        x = values if values.dtype == tf.string else tf.strings.as_string(values)
        if self.default_value is not None:
            x = tf.where(tf.strings.length(x) > 0, x, self.default_value)
        return self._value_ids(x)

    def _value_ids(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``(ids, has_id)`` of 1-D strings, each one id: an empty string has none, nor
        a number outside num_buckets (the id beside a False is not one: keep only those
        with has_id)."""
        # Lengths, not a comparison with "": the scalar's broadcast costs more than the
        # hash itself.
        present = tf.strings.length(x) > 0
        if self.zch is not None:
            ids = tf.strings.to_hash_bucket_fast(x, KEYS)
        elif self.hash_bucket_size is not None:
            ids = tf.strings.to_hash_bucket_fast(x, self.hash_bucket_size)
        elif self.num_buckets is not None:
            ids, in_range = _bucket_numbers(x, self.num_buckets)
            present = tf.logical_and(present, in_range)
        else:
            ids = self._lookup(x)
        return ids, present

    def cell_checks(self) -> list[tuple[int, object, str]]:
        """Checks of the raw cells in training data, as ``(input index, fn(cells) ->
        [batch] bool, what is wrong)``: a weighted feature's cells hold ``id:weight``
        items only."""
        if not self.weighted:
            return []

        def bad(x):
            items = self._items(x)
            ok = tf.strings.regex_full_match(items.flat_values, WEIGHTED_ITEM)
            return tf.reduce_any(tf.logical_not(items.with_flat_values(ok)), axis=1)

        joined = f" joined by {self.separator!r}" if self.separator else ""
        return [
            (
                0,
                bad,
                f"is not 'id:weight' items{joined}, as the weighted feature {self.name!r} reads",
            )
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "hash_bucket_size": self.hash_bucket_size,
            "num_buckets": self.num_buckets,
            "vocab_list": self.vocab_list,
            "separator": self.separator,
            "default_value": self.default_value,
            "vocab_dict": self.vocab_dict,
            "default_bucketize_value": self.default_bucketize_value,
            "weighted": self.weighted,
            "zch": self.zch,
            "first_only": self.first_only,
        }


class VocabLookup:
    """Exact lookup of strings in a fixed vocabulary, made of constants only (no lookup
    table resource, so that a SavedModel of the serving function alone holds it):
    binary search of the values' 64-bit hashes, then a string comparison.

    Args:
        vocabulary: The values and their rows.

    Call maps a string tensor to int64 rows (`vocabulary.unknown` for other values).
    """

    def __init__(self, vocabulary: Vocabulary):
        keys = [k.encode("utf-8") for k in vocabulary.keys]
        with tf.init_scope():
            hashes = tf.strings.to_hash_bucket_fast(tf.constant(keys, tf.string), _HASH_SPACE)
            hashes = hashes.numpy()
        order = np.argsort(hashes, kind="stable")
        self.hashes = hashes[order]
        if len(self.hashes) > 1 and (np.diff(self.hashes) == 0).any():
            raise ValueError("Two vocabulary values have the same 64-bit hash; rename one.")
        self.keys = np.array(keys, dtype=object)[order]
        self.rows = np.asarray(vocabulary.ids, np.int64)[order]
        self.unknown = int(vocabulary.unknown)

    def __call__(self, values: tf.Tensor) -> tf.Tensor:
        hashes = tf.constant(self.hashes)
        h = tf.strings.to_hash_bucket_fast(values, _HASH_SPACE)
        at = tf.minimum(tf.searchsorted(hashes, h), len(self.hashes) - 1)
        found = tf.logical_and(
            tf.equal(tf.gather(hashes, at), h),
            tf.equal(tf.gather(tf.constant(self.keys), at), values),
        )
        rows = tf.where(found, tf.gather(tf.constant(self.rows), at), self.unknown)
        return tf.ensure_shape(rows, values.shape)


def _bucket_numbers(values: tf.Tensor, num_buckets: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(int64 ids, whether each is in [0, num_buckets)) of string values."""
    # At most 18 digits: longer numbers overflow int64 and have no id anyway.
    valid = tf.strings.regex_full_match(values, r"\s*[+-]?0*[0-9]{1,18}\s*")
    ids = tf.strings.to_number(tf.where(valid, values, "-1"), tf.int64)
    return ids, (ids >= 0) & (ids < num_buckets)


def split_tokens(x: tf.Tensor, separator: str, ids=None) -> tf.RaggedTensor:
    """The non-empty tokens of each string of `x` split at `separator`, as a ragged
    tensor made from its value row ids (see :func:`_ragged_where`): a single-valued cell
    costs little more than without a separator. The split is StringSplitV2 itself, whose
    indices are the row ids: ``tf.strings.split`` would build a ragged tensor, with its
    checks, only to have it taken apart (a third of the ops, traced once per feature and
    per traced function). With `ids` (tokens -> (ids, has_id), an empty token without
    one), the ids of the tokens that have one, made before the ragged tensor is."""
    indices, values, _ = tf.raw_ops.StringSplitV2(input=x, sep=separator, maxsplit=-1)
    if ids is None:
        keep = values != ""
    else:
        values, keep = ids(values)
    rows = tf.gather(indices, 0, axis=1)
    return kept_rows(values, rows, keep, tf.size(x, out_type=tf.int64))


def _ragged_where(values, keep):
    """A [batch, 0 or 1] ragged tensor holding values[i] where keep[i].

    Made from its value row ids, which it then holds: the embedding lookup's segment sum
    reads them, and a ragged tensor made from row lengths would derive them anew (a dozen
    small ops) each time they are read."""
    rows = true_positions(keep)
    return from_value_rowids(tf.gather(values, rows), rows, tf.size(keep, out_type=tf.int64))


def _dense_where(x: tf.Tensor, keep: tf.Tensor) -> tf.RaggedTensor:
    """The values of the [batch, n] `x` where `keep`, row by row, as a ragged tensor
    made from their value row ids (see :func:`_ragged_where`)."""
    at = tf.where(keep)
    return from_value_rowids(tf.gather_nd(x, at), at[:, 0], tf.shape(x, out_type=tf.int64)[0])


def id_args(f) -> dict:
    """The IdFeature arguments of an id message's hash_bucket_size, num_buckets,
    vocab_list, vocab_dict, vocab_file (read here: the layer, and with it the SavedModel,
    holds its values), default_bucketize_value and default_value."""
    fields = f.DESCRIPTOR.fields_by_name
    vocab_list = list(f.vocab_list) or None
    vocab_dict = dict(f.vocab_dict) or None
    if "vocab_file" in fields and f.HasField("vocab_file"):
        values, ids = read_vocab_file(f.vocab_file, f"{f.feature_name}.vocab_file")
        if ids is None:
            vocab_list = values
        else:
            vocab_dict = dict(zip(values, ids))

    def optional(name):
        return getattr(f, name) if name in fields and f.HasField(name) else None

    return {
        "hash_bucket_size": optional("hash_bucket_size"),
        "num_buckets": optional("num_buckets"),
        "vocab_list": vocab_list,
        "vocab_dict": vocab_dict,
        "default_bucketize_value": optional("default_bucketize_value"),
        "default_value": (f.default_value or None) if f.HasField("default_value") else None,
    }


def zch_of(f) -> dict | None:
    """The zch table's arguments of an id message (IdFeature, SequenceIdFeature): its
    zch's or its dynamicemb's; None without either."""
    kind = zch_kind(f)
    if kind == "zch":
        return zch_args(f.zch)
    if kind == "dynamicemb":
        return dynamicemb_args(f.dynamicemb, f.embedding_dim)
    return None


def build_id_feature(f, feature_configs=None) -> list[BuiltFeature]:
    """The layer of an IdFeature message, embedded with its embedding_dim."""
    layer = IdFeature(
        **id_args(f),
        separator=f.separator,
        weighted=f.weighted,
        first_only=f.HasField("value_dim") and f.value_dim == 1,
        zch=zch_of(f),
        name=f.feature_name,
    )
    if f.data_type == "FP16":
        logging.getLogger(__name__).info(
            "feature %r: data_type FP16: easymtl keeps its table in FP32", f.feature_name
        )
    return one_feature(f, layer, f.embedding_dim)
