"""expr_feature: an expression over input columns (``"u_age >= i_age ? 1 : 0"``,
``"log(price + 1)"``) → a number per row, dense or bucketized and embedded
(docs/features.md#expr_feature).

The config side (no TensorFlow); the layer and its builder are in
:mod:`easymtl.features.expr_feature.layer`, the expression language in
:mod:`easymtl.features.expression`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features import FEATURES
from easymtl.features.checks import check_boundaries, check_embedding, check_number
from easymtl.features.expression import ExpressionError, parse
from easymtl.features.map_config import field_of


def variable_names(proto) -> list[str]:
    """The names an ExprFeature's expression uses for its variables (their fields)."""
    return [field_of(v) for v in proto.variables]


def expr_inputs(proto) -> list[tuple[str, str]]:
    """``(field path, input column)`` of each variable an ExprFeature reads."""
    return [(f"variables[{j}]", name) for j, name in enumerate(variable_names(proto))]


def check_expr_feature(f, where: str) -> None:
    """The checks of one ExprFeature message."""
    for j, variable in enumerate(f.variables):
        if variable.split(":", 1)[0] == "feature" and ":" in variable:
            raise ConfigError(
                f"{where}.variables[{j}]",
                f"{variable!r} reads another feature's output, which easymtl does not; "
                "read its input column (e.g. 'user:age')",
            )
    try:
        node = parse(f.expression)
    except ExpressionError as e:
        raise ConfigError(f"{where}.expression", str(e)) from None
    names = variable_names(f)
    unknown = [v for v in node.variables() if v not in names]
    if unknown:
        raise ConfigError(
            f"{where}.expression",
            f"reads {', '.join(map(repr, unknown))}, not in variables; expected the "
            f"variables' field names ({', '.join(names) or 'none given'})",
        )
    if f.HasField("value_dim") and f.value_dim != 1:
        raise ConfigError(
            f"{where}.value_dim",
            f"{f.value_dim}: expected 1 (easymtl computes one value per row; a list "
            "variable is read by the vector functions, e.g. len(x), dot(x, y))",
        )
    if not f.separator:
        raise ConfigError(f"{where}.separator", "must not be empty")
    check_boundaries(f, where)
    check_embedding(f, where)
    check_number(f, "default_value", where)


def expr_feature_table(f) -> tuple[int, int] | None:
    """(rows, dim) of a bucketized ExprFeature's table; None for a dense value."""
    return (len(f.boundaries) + 1, f.embedding_dim) if f.boundaries else None


FEATURES.register(
    "expr_feature",
    "easymtl.features.expr_feature.layer:build_expr_feature",
    check=check_expr_feature,
    table=expr_feature_table,
    inputs=expr_inputs,
    docs="features.md#expr_feature",
)
