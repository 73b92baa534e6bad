"""Features: FEATURES, the registry of feature kinds, and the builder of the model's
input layer.

A feature kind is an entry of FeatureConfig's ``feature`` oneof, and a package here named
after it: its ``__init__.py`` is the config side (no TensorFlow) and registers

- the builder ``build(sub-message, feature_configs) -> [BuiltFeature]``, named as
  ``"easymtl.features.<kind>.layer:build_<kind>"`` and imported when the model is built
  (with its Keras layer, in the same ``layer.py``);
- ``check(sub-message, field path)``: its own config checks (ConfigError), run at
  validation without TensorFlow;
- ``table(sub-message) -> (rows, dim) or None``: the embedding table it needs, so that
  validation can compare features that share one;
- ``inputs(sub-message) -> [(field, column)]`` where it reads other columns than its
  expression's (or feature_name's) one, so that validation names the field that reads a
  missing column;
- ``sequence=True`` for the sequence kinds, whose names, columns and tables
  :mod:`easymtl.features.sequence_config` validates (a sequence_feature makes one feature
  per sub-feature);
- ``references(sub-message, field path, feature_configs)`` where it names other features
  (checked once every feature's own checks have passed);
- ``docs``: its section, as ``"<page>.md#<anchor>"`` under docs/ (tests/test_docs.py
  checks each, and that docs/features.md lists every kind).

What kinds share: :mod:`~easymtl.features.base` (columns, table names, BuiltFeature),
:mod:`~easymtl.features.checks`, :mod:`~easymtl.features.vocab`,
:mod:`~easymtl.features.normalizer`, :mod:`~easymtl.features.map_config` and
:mod:`~easymtl.features.map_values` (lookup and match), the sequence modules, and the
layers every model uses: :mod:`~easymtl.features.embedding` (tables, FeatureInputs) and
:mod:`~easymtl.features.zch`. The feature-group builder is
:mod:`~easymtl.features.inputs`.

Adding a kind: see docs/ARCHITECTURE.md, "Adding a feature kind".
"""

from __future__ import annotations

from easymtl.features.base import input_name, table_name
from easymtl.registry import Registry

FEATURES = Registry("feature kind")

# The registrations (imported for their side effect, after the registry exists), in the
# order error messages list the kinds.
# isort: off
from easymtl.features import id_feature  # noqa: E402, F401
from easymtl.features import raw_feature  # noqa: E402, F401
from easymtl.features import combo_feature  # noqa: E402, F401
from easymtl.features import lookup_feature  # noqa: E402, F401
from easymtl.features import match_feature  # noqa: E402, F401
from easymtl.features import overlap_feature  # noqa: E402, F401
from easymtl.features import expr_feature  # noqa: E402, F401
from easymtl.features import kv_dot_product  # noqa: E402, F401
from easymtl.features import bool_mask_feature  # noqa: E402, F401
from easymtl.features import custom_feature  # noqa: E402, F401
from easymtl.features import sequence_feature  # noqa: E402, F401
from easymtl.features import sequence_id_feature  # noqa: E402, F401
from easymtl.features import sequence_raw_feature  # noqa: E402, F401
from easymtl.features import sequence_match_feature  # noqa: E402, F401

# isort: on
from easymtl.features.inputs import build_feature_inputs  # noqa: E402
from easymtl.features.sequence_encoders import ENCODERS  # noqa: E402

__all__ = [
    "ENCODERS",
    "FEATURES",
    "build_feature_inputs",
    "feature_columns",
    "input_name",
    "table_name",
]


def feature_columns(feature_configs) -> dict[str, str]:
    """``{feature_name: input column}`` of the id and raw features of `feature_configs`
    (what a loss that names a feature, jrc_loss's session_name, reads)."""
    columns = {}
    for fc in feature_configs:
        kind = fc.WhichOneof("feature")
        if kind in ("id_feature", "raw_feature"):
            feature = getattr(fc, kind)
            columns[feature.feature_name] = input_name(feature)
    return columns
