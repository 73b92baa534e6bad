"""A null cell of a numeric Parquet column, read as TorchEasyRec reads it: the feature has
no value (an id feature: no id) or its default (a raw feature: its default_value, "0"
unless set). Imports no TensorFlow.

easymtl's data readers fill a null number with the field's ``default_val`` and stop on one
without (a silent wrong read is worse than an error). A TorchEasyRec config declares no
input_fields for Parquet, so easymtl reads them from the file schema
(:func:`easymtl.config.input_fields_from_schema`); for those fields the null's meaning
comes from the features that read the column, where they agree on it:

- an ``id_feature`` with ``num_buckets`` (and no default_value): ``-1``, outside the
  buckets, so the row has no id, as TorchEasyRec drops a null id;
- a ``raw_feature``: its ``default_value`` (TorchEasyRec's fg fills a missing value so).

A column also read by another kind of feature, a label or a sample weight, or by features
that want different values, keeps no default_val (a null there stays an error).
"""

from __future__ import annotations

_NUMERIC = ("INT32", "INT64", "FLOAT", "DOUBLE")


def _column(feature) -> str:
    if feature.HasField("expression"):
        return feature.expression.split(":", 1)[-1]
    return feature.feature_name


def _null_value(kind: str, feature) -> str | None:
    """What a null of the column means to one id/raw feature, as a number (None: no
    number says it)."""
    if kind == "raw_feature":
        return feature.default_value
    if (
        feature.HasField("num_buckets")
        and not feature.HasField("default_value")
        and not feature.weighted
    ):
        return "-1"
    return None


def null_defaults(config) -> dict[str, str]:
    """``{column: default_val}`` of the numeric columns whose null cells have a meaning
    every reader of the column agrees on (see the module docstring)."""
    from easymtl.features import FEATURES
    from easymtl.features.sequence_config import sequence_entries

    wanted: dict[str, set] = {}
    for fc in config.feature_configs:
        kind = fc.WhichOneof("feature")
        feature = getattr(fc, kind)
        entry = FEATURES.entry(kind)
        if kind in ("id_feature", "raw_feature"):
            wanted.setdefault(_column(feature), set()).add(_null_value(kind, feature))
        elif entry.inputs is not None:
            for _, column in entry.inputs(feature):
                wanted.setdefault(column, set()).add(None)
        elif not entry.sequence:
            wanted.setdefault(_column(feature), set()).add(None)
    for entry in sequence_entries(config.feature_configs):
        wanted.setdefault(entry.column, set()).add(None)
    data = config.data_config
    for column in (*data.label_fields, *data.sample_weight_fields):
        wanted.setdefault(column, set()).add(None)
    return {
        column: values.pop()
        for column, values in wanted.items()
        if len(values) == 1 and None not in values
    }


def fill_null_defaults(config, fields) -> list[str]:
    """Sets default_val on those of `fields` (Field messages read from a file schema)
    that are numeric scalar columns with an agreed null meaning; returns their names."""
    from easymtl.protos import data_pb2

    defaults = null_defaults(config)
    filled = []
    for field in fields:
        kind = data_pb2.FieldType.Name(field.input_type)
        if kind in _NUMERIC and field.input_name in defaults and not field.HasField("default_val"):
            field.default_val = defaults[field.input_name]
            filled.append(field.input_name)
    return filled
