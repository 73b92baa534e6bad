"""The normalizer spec of a raw feature (``"method=log10,threshold=1e-10"``), parsed
without TensorFlow so that validation can check it."""

from __future__ import annotations

_NORMALIZERS = {
    "log10": {"threshold": 1e-10, "default": -10.0},
    "log1p": {},
    "zscore": {"mean": 0.0, "standard_deviation": 1.0},
    "minmax": {"min": 0.0, "max": 1.0},
}


def parse_normalizer(spec: str) -> dict:
    """Parses ``"method=log10,threshold=1e-10,default=-10"`` into a dict with every key.

    Raises:
        ValueError: an unknown method or key, or a value that is not a number.
    """
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
