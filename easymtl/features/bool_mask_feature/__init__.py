"""bool_mask_feature: the values of one column kept where a second column's flags are true
(``"123,456,90"`` masked by ``"true,false,true"``) → ids, embedded and pooled
(docs/features.md#bool_mask_feature).

The config side (no TensorFlow); the layer and its builder are in
:mod:`easymtl.features.bool_mask_feature.layer`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features import FEATURES
from easymtl.features.id_feature import check_id_feature, id_feature_table
from easymtl.features.map_config import field_of


def bool_mask_inputs(proto) -> list[tuple[str, str]]:
    """``(field path, input column)`` of the values and the mask a BoolMaskFeature reads."""
    return [(f"expression[{j}]", field_of(e)) for j, e in enumerate(proto.expression)]


def check_bool_mask_feature(f, where: str) -> None:
    """The checks of one BoolMaskFeature message."""
    if len(f.expression) != 2:
        raise ConfigError(
            f"{where}.expression",
            f"expected 2 inputs (the values, then their true/false mask), got {len(f.expression)}",
        )
    if not f.separator:
        raise ConfigError(f"{where}.separator", "must not be empty")
    check_id_feature(f, where)


FEATURES.register(
    "bool_mask_feature",
    "easymtl.features.bool_mask_feature.layer:build_bool_mask_feature",
    check=check_bool_mask_feature,
    table=id_feature_table,
    inputs=bool_mask_inputs,
    docs="features.md#bool_mask_feature",
)
