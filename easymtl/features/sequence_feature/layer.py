"""The sequence_feature kind's builder: one sequence layer per sub-feature, each reading
the column ``<sequence_name>__<field>`` (see :mod:`easymtl.features.sequence_config`)."""

from __future__ import annotations

from easymtl.features.base import BuiltFeature
from easymtl.features.sequence_config import entry_feature
from easymtl.features.sequence_id_feature.layer import sequence_id_layer
from easymtl.features.sequence_raw_feature.layer import sequence_raw_layer


def build_sequence_feature(f, feature_configs) -> list[BuiltFeature]:
    """The layers of a SequenceFeature message's sub-features, in order; a layer is
    named ``<sequence_name>__<name>``."""
    built = []
    for sub in f.features:
        kind = sub.WhichOneof("feature")
        proto = getattr(sub, kind)
        layer = sequence_id_layer if kind == "id_feature" else sequence_raw_layer
        name = f"{f.sequence_name}__{proto.feature_name}"
        built.append(
            entry_feature(
                feature_configs, name, layer(proto, f.sequence_length, f.sequence_delim, name)
            )
        )
    return built
