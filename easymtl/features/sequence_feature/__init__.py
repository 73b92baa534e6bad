"""sequence_feature: a behaviour sequence of aligned sub-features (id_feature and
raw_feature blocks), each read from its own column, embedded item by item
(docs/sequences.md#the-config).

The config side (no TensorFlow); the builder is in
:mod:`easymtl.features.sequence_feature.layer`. What the sequence kinds share (their
names, columns, tables) is :mod:`easymtl.features.sequence_config`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features import FEATURES
from easymtl.features.sequence_config import check_item, check_sequence


def check_sequence_feature(f, where: str) -> None:
    """The checks of one SequenceFeature message and its sub-features."""
    if not f.sequence_name:
        raise ConfigError(f"{where}.sequence_name", "must not be empty")
    if not f.features:
        raise ConfigError(f"{where}.features", "a sequence_feature needs sub-features")
    check_sequence(f.sequence_length, f.sequence_delim, where)
    for j, sub in enumerate(f.features):
        kind = sub.WhichOneof("feature")
        if kind is None:
            raise ConfigError(
                f"{where}.features[{j}]", "expected id_feature { ... } or raw_feature { ... }"
            )
        check_item(getattr(sub, kind), kind.split("_")[0], f"{where}.features[{j}].{kind}")


# Its tables are its sub-features' (their names, columns and tables are validated with
# the other sequence kinds', by sequence_config.validate_sequence_features).
FEATURES.register(
    "sequence_feature",
    "easymtl.features.sequence_feature.layer:build_sequence_feature",
    check=check_sequence_feature,
    sequence=True,
    docs="sequences.md#the-config",
)
