"""The normalizer spec of a raw feature (``"method=log10,threshold=1e-10"``,
``"method=expression,expr=log(x+3)"``), parsed without TensorFlow so that validation can
check it."""

from __future__ import annotations

_NORMALIZERS = {
    "log10": {"threshold": 1e-10, "default": -10.0},
    "log1p": {},
    "zscore": {"mean": 0.0, "standard_deviation": 1.0},
    "minmax": {"min": 0.0, "max": 1.0},
    "expression": {},
}


def parse_normalizer(spec: str) -> dict:
    """Parses ``"method=log10,threshold=1e-10,default=-10"`` into a dict with every key.

    ``"method=expression,expr=EXPR"`` gives ``{"method": "expression", "expr": EXPR}``:
    the value x computed by EXPR (see :mod:`easymtl.features.expression`; everything
    after ``expr=`` is the expression, commas included).

    Raises:
        ValueError: an unknown method or key, or a value that is not a number, or an
            expression that does not parse or reads another variable than x.
    """
    head, _, expr = spec.partition("expr=")
    if head.replace(" ", "").rstrip(",") == "method=expression":
        return {"method": "expression", "expr": _check_expression(expr.strip())}
    items = dict(kv.split("=", 1) if "=" in kv else (kv, "") for kv in spec.split(",") if kv)
    method = items.pop("method", "").strip()
    if method not in _NORMALIZERS:
        raise ValueError(
            f"unknown normalizer method {method!r}; expected method=" + "|".join(_NORMALIZERS)
        )
    params = dict(_NORMALIZERS[method])
    for key, value in items.items():
        key = key.strip()
        if key not in params:
            raise ValueError(f"normalizer {method} has no parameter {key!r}")
        try:
            params[key] = float(value)
        except ValueError:
            raise ValueError(f"normalizer parameter {key}={value!r} is not a number") from None
    if method == "zscore" and params["standard_deviation"] <= 0:
        raise ValueError("normalizer zscore needs standard_deviation > 0")
    if method == "minmax" and params["max"] <= params["min"]:
        raise ValueError("normalizer minmax needs max > min")
    return {"method": method, **params}


def _check_expression(expr: str) -> str:
    from easymtl.features.expression import ExpressionError, parse

    try:
        node = parse(expr)
    except ExpressionError as e:
        raise ValueError(f"normalizer expression: {e}") from None
    others = [v for v in node.variables() if v != "x"]
    if others or node.vector_variables():
        raise ValueError(
            f"normalizer expression {expr!r} may read only the value x (one number), not "
            + ", ".join(others or node.vector_variables())
        )
    return expr
