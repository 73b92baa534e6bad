"""Embedding table initializers from a feature's `init_fn`, as TorchEasyRec writes them
("nn.init.uniform_,a=-0.05,b=0.05"): parsed and checked without TensorFlow, turned into
a Keras initializer when the tables are built."""

from __future__ import annotations

from easymtl.errors import ConfigError


def default_initializer(rows: int) -> dict:
    """The initializer of a table of `rows` rows without an init_fn: TorchEasyRec's
    (torchrec's ``get_weight_init_min/max``), uniform in +-sqrt(1 / rows)."""
    bound = rows**-0.5
    return {"class_name": "RandomUniform", "config": {"minval": -bound, "maxval": bound}}


# init_fn function → (Keras initializer, {TorchEasyRec argument: Keras argument}, defaults).
_FUNCTIONS = {
    "nn.init.uniform_": ("RandomUniform", {"a": "minval", "b": "maxval"}, {"a": 0.0, "b": 1.0}),
    "nn.init.normal_": (
        "RandomNormal", {"mean": "mean", "std": "stddev"}, {"mean": 0.0, "std": 1.0},
    ),
    "nn.init.trunc_normal_": (
        "TruncatedNormal", {"mean": "mean", "std": "stddev"},
        {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0},
    ),
    "nn.init.zeros_": ("Zeros", {}, {}),
    "nn.init.constant_": ("Constant", {"val": "value"}, {}),
}  # fmt: skip


def parse_init_fn(text: str) -> dict:
    """The Keras initializer (``{"class_name", "config"}``) of an init_fn string.

    Raises:
        ValueError: naming what is wrong.
    """
    name, *args = [part.strip() for part in text.split(",")]
    if name not in _FUNCTIONS:
        raise ValueError(f"{name!r} is not an init_fn easymtl reads; expected one of "
                         f"{', '.join(_FUNCTIONS)}")  # fmt: skip
    class_name, renames, defaults = _FUNCTIONS[name]
    values = dict(defaults)
    for arg in args:
        key, _, value = arg.partition("=")
        key = key.strip()
        if key not in renames and key not in defaults:
            raise ValueError(f"{name} takes {', '.join(sorted({*renames, *defaults})) or 'no'} "
                             f"arguments, not {key!r}")  # fmt: skip
        try:
            values[key] = float(value)
        except ValueError:
            raise ValueError(f"{key}={value.strip()!r} is not a number") from None
    if name == "nn.init.constant_" and "val" not in values:
        raise ValueError("nn.init.constant_ needs val=")
    if name == "nn.init.trunc_normal_":
        mean, std = values["mean"], values["std"]
        close = 1e-4 * max(abs(std), 1e-12)  # the text's rounding
        if (
            abs(values["a"] - (mean - 2 * std)) > close
            or abs(values["b"] - (mean + 2 * std)) > close
        ):
            raise ValueError(
                "easymtl's truncated normal cuts at 2 std: give a = mean - 2 std and "
                "b = mean + 2 std"
            )
    return {
        "class_name": class_name,
        "config": {renames[k]: v for k, v in values.items() if k in renames},
    }


def check_init_fn(feature, where: str) -> None:
    """Raises ConfigError when a feature message's init_fn does not parse."""
    if hasattr(feature, "init_fn") and feature.HasField("init_fn"):
        try:
            parse_init_fn(feature.init_fn)
        except ValueError as e:
            raise ConfigError(f"{where}.init_fn", str(e)) from None


def table_initializers(feature_configs, table_name) -> dict[str, dict]:
    """Each embedding table's initializer (the first feature's init_fn that names it),
    by table name (`table_name(feature message)`)."""
    found: dict[str, dict] = {}
    for fc in feature_configs:
        kind = fc.WhichOneof("feature")
        msg = getattr(fc, kind) if kind else None
        if msg is not None and hasattr(msg, "init_fn") and msg.HasField("init_fn"):
            found.setdefault(table_name(msg), parse_init_fn(msg.init_fn))
    return found
