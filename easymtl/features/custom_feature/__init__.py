"""custom_feature: a TorchEasyRec feature-generator operator over input columns, where
easymtl computes the same operator in the model: ``EditDistance`` (the edit distance of
two strings, a number) and ``RegexReplace`` (a string with a regular expression's matches
replaced, as ids) (docs/features.md#custom_feature). Any other operator is a compiled
library of TorchEasyRec's feature generator; its config is an error naming it.

The config side (no TensorFlow); the layer and its builder are in
:mod:`easymtl.features.custom_feature.layer`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features import FEATURES
from easymtl.features.checks import (
    check_boundaries,
    check_embedding,
    check_normalizer,
    check_number,
)
from easymtl.features.id_feature import check_id_feature, id_feature_table
from easymtl.features.map_config import field_of

# Operator -> (number of inputs, whether its output is ids (a string) or a number).
OPERATORS = {"EditDistance": (2, False), "RegexReplace": (1, True)}
ID_KINDS = ("hash_bucket_size", "num_buckets", "vocab_list", "vocab_dict", "vocab_file")


def params(f) -> dict:
    """The operator_params of a CustomFeature as a plain dict."""
    return {k: _value(v) for k, v in f.operator_params.fields.items()}


def _value(v):
    kind = v.WhichOneof("kind")
    return getattr(v, kind) if kind in ("string_value", "number_value", "bool_value") else None


def custom_inputs(proto) -> list[tuple[str, str]]:
    """``(field path, input column)`` of each input a CustomFeature reads."""
    return [(f"expression[{j}]", field_of(e)) for j, e in enumerate(proto.expression)]


def is_ids(f) -> bool:
    """Whether a CustomFeature's output is ids (an id kind is set)."""
    return any(f.HasField(k) if k not in ("vocab_list", "vocab_dict") else len(getattr(f, k))
               for k in ID_KINDS)  # fmt: skip


def check_custom_feature(f, where: str) -> None:
    """The checks of one CustomFeature message."""
    if f.operator_name not in OPERATORS:
        raise ConfigError(
            f"{where}.operator_name",
            f"{f.operator_name!r} ({f.operator_lib_file}) is a compiled feature-generator "
            "operator that easymtl cannot run in the model; easymtl computes "
            + " and ".join(OPERATORS),
        )
    inputs, ids = OPERATORS[f.operator_name]
    if len(f.expression) != inputs:
        raise ConfigError(
            f"{where}.expression",
            f"{f.operator_name} reads {inputs} inputs, got {len(f.expression)}",
        )
    p = params(f)
    if f.operator_name == "EditDistance" and p.get("encoding", "latin") not in ("utf-8", "latin"):
        raise ConfigError(
            f"{where}.operator_params", f"encoding {p['encoding']!r}: expected 'utf-8' or 'latin'"
        )
    if f.operator_name == "RegexReplace":
        for key in ("regex_patten", "replacement"):
            if not isinstance(p.get(key), str):
                raise ConfigError(
                    f"{where}.operator_params", f"RegexReplace needs {key} (a string)"
                )
    if ids != is_ids(f):
        what = "ids: set hash_bucket_size, num_buckets or a vocabulary" if ids else (
            "a number: use boundaries, not an id kind"
        )  # fmt: skip
        raise ConfigError(where, f"{f.operator_name} gives {what}")
    if ids:
        check_id_feature(f, where)
        return
    check_boundaries(f, where)
    check_embedding(f, where)
    check_normalizer(f, where)
    check_number(f, "default_value", where)


def custom_feature_table(f) -> tuple[int, int] | None:
    """(rows, dim) of a CustomFeature's table: its ids', its buckets', or None (dense)."""
    if is_ids(f):
        return id_feature_table(f)
    return (len(f.boundaries) + 1, f.embedding_dim) if f.boundaries else None


FEATURES.register(
    "custom_feature",
    "easymtl.features.custom_feature.layer:build_custom_feature",
    check=check_custom_feature,
    table=custom_feature_table,
    inputs=custom_inputs,
    docs="features.md#custom_feature",
)
