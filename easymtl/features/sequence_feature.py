"""The sequence_feature kind's builder: one sequence layer per sub-feature, each reading
the column ``<sequence_name>__<field>`` (see :mod:`easymtl.features.sequence_config`)."""

from __future__ import annotations

from easymtl.features.sequence_id_feature import build_sequence_id_feature
from easymtl.features.sequence_raw_feature import build_sequence_raw_feature


def build_sequence_feature(f) -> list[tuple[object, int | None]]:
    """The layers of a SequenceFeature message's sub-features, in order, each with its
    embedding dim (None: dense values); a layer is named ``<sequence_name>__<name>``."""
    built = []
    for sub in f.features:
        kind = sub.WhichOneof("feature")
        proto = getattr(sub, kind)
        build = build_sequence_id_feature if kind == "id_feature" else build_sequence_raw_feature
        name = f"{f.sequence_name}__{proto.feature_name}"
        built.append(build(proto, f.sequence_length, f.sequence_delim, name))
    return built
