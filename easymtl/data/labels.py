"""Labels derived from input fields as they are read (data_config.label_transforms).

A derived label is 1 where its input field meets the transform's rule (equals, in_set,
greater_than, greater_or_equal) and 0 elsewhere, e.g. ``income > 50K`` from the string
column ``income_50k``. The readers decode the input field; :func:`with_derived_labels`
adds the labels to each batch. The checks of the config load no TensorFlow.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.protos import data_pb2

_STRING_RULES = ("equals", "in_set")


def source_columns(data_config, columns: list[str]) -> list[str]:
    """`columns` with each derived label replaced by the input field it reads."""
    transforms = {t.label_name: t for t in data_config.label_transforms}
    read = [transforms[c].input_name if c in transforms else c for c in columns]
    return list(dict.fromkeys(read))


def with_derived_labels(dataset, data_config, columns):
    """Adds the derived labels among `columns` to each batch of `dataset` (a
    tf.data.Dataset read with :func:`source_columns`) and drops the fields read only for
    them."""
    import tensorflow as tf

    from easymtl.data.checks import BAD_ROWS, as_written

    wanted = [t for t in data_config.label_transforms if t.label_name in set(columns)]
    if not wanted:
        return dataset

    def derive(batch):
        out = {k: v for k, v in batch.items() if k in set(columns) or k == BAD_ROWS}
        for t in wanted:
            out[t.label_name] = tf.cast(_meets(t, batch[t.input_name]), tf.int32)
        return out

    return dataset.map(as_written(derive), num_parallel_calls=tf.data.AUTOTUNE)


def _meets(transform, values):
    import tensorflow as tf

    rule = transform.WhichOneof("rule")
    if rule in _STRING_RULES:
        values = tf.strings.strip(values)
        accepted = [transform.equals] if rule == "equals" else list(transform.in_set.values)
        hits = [tf.equal(values, v.strip()) for v in accepted]
        return tf.reduce_any(tf.stack(hits), axis=0)
    bound = getattr(transform, rule)
    values = tf.cast(values, tf.float64)
    return values > bound if rule == "greater_than" else values >= bound


def validate_label_transforms(data_config) -> set[str]:
    """Checks data_config.label_transforms; returns the derived label names.

    Raises:
        ConfigError: a name that is an input field or repeated, an unknown input field,
            no rule, or a rule that does not fit the field's type.
    """
    fields = {f.input_name: f for f in data_config.input_fields}
    names: set[str] = set()
    for i, t in enumerate(data_config.label_transforms):
        where = f"data_config.label_transforms[{i}]"
        if t.label_name in fields or t.label_name in names:
            raise ConfigError(
                f"{where}.label_name",
                f"{t.label_name!r} is already an input field or a derived label",
            )
        names.add(t.label_name)
        if t.input_name not in fields:
            raise ConfigError(
                f"{where}.input_name", f"{t.input_name!r} is not one of data_config.input_fields"
            )
        rule = t.WhichOneof("rule")
        if rule is None:
            raise ConfigError(
                where, "expected a rule: equals, in_set, greater_than or greater_or_equal"
            )
        is_string = fields[t.input_name].input_type == data_pb2.STRING
        kind = data_pb2.FieldType.Name(fields[t.input_name].input_type)
        if (rule in _STRING_RULES) != is_string or kind.startswith("ARRAY_"):
            expected = "a STRING field" if rule in _STRING_RULES else "a numeric field"
            raise ConfigError(f"{where}.{rule}", f"needs {expected}; {t.input_name!r} is {kind}")
        if rule == "in_set" and not t.in_set.values:
            raise ConfigError(f"{where}.in_set.values", "give at least one value")
    return names
