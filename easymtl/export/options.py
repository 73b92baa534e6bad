"""What the serving signature of an export takes and how it stores its tables:
export_config.input_tile (a request of one user and many candidates) and
export_config.embedding_quantization. Imports no TensorFlow (the config checks)."""

from __future__ import annotations

from easymtl.errors import ConfigError

INPUT_TILES = (0, 2, 3)
QUANTIZATIONS = ("", "INT8", "BF16")


def check_export_options(export_config) -> None:
    """Raises ConfigError for an input_tile or embedding_quantization not known."""
    if export_config.input_tile not in INPUT_TILES:
        raise ConfigError(
            "export_config.input_tile",
            f"{export_config.input_tile} is not an input tile mode; expected 0 (off), 2 "
            "(user-side columns repeated) or 3 (user-side features computed once)",
        )
    if export_config.embedding_quantization not in QUANTIZATIONS:
        raise ConfigError(
            "export_config.embedding_quantization",
            f"{export_config.embedding_quantization!r} is not a table precision; expected "
            "'INT8', 'BF16' or '' (float32)",
        )


def user_inputs(feature_configs) -> list[str]:
    """The user-side input columns: those some feature's expression names with the
    "user:" side (TorchEasyRec's, e.g. "user:age_level") and none with another side, in
    config order."""
    sides: dict[str, set[str]] = {}
    for message in feature_configs:
        for expression in _expressions(message):
            side, _, column = expression.rpartition(":")
            sides.setdefault(column, set()).add(side)
    return [column for column, found in sides.items() if found == {"user"}]


def _expressions(message) -> list[str]:
    """Every `expression` string in `message` and its sub-messages."""
    found = []
    for field, value in message.ListFields():
        if field.name == "expression":
            found += [value] if isinstance(value, str) else list(value)
        elif field.message_type is not None:
            items = [value] if hasattr(value, "ListFields") else value
            for item in items:
                if hasattr(item, "ListFields"):
                    found += _expressions(item)
    return found
