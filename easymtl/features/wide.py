"""WIDE feature groups: a first-order (logistic-regression) term added to the towers' logits.

Every feature of a WIDE group gets a weight per output of each tower (TorchEasyRec and
EasyRec give it a ``wide_embedding_dim`` / ``wide_output_dim`` wide embedding, summed into
the logit; with several tasks, here each task has its own weights):

- an embedded feature (id, combo, bucketized raw, discrete lookup/match) a wide table
  ``<table>_wide`` of ``[rows, outputs]``, zero-initialised, learned by the sparse
  optimizer; features sharing a table share its wide table too;
- a dense value ``[batch, d]`` (raw feature, numeric lookup/match) a linear weight
  ``[d, outputs]`` (``wide_<feature>``), zero-initialised, learned by the dense optimizer.

The group's tensor is the sum of its features' terms, ``[batch, outputs]``; the model adds
the sum over its WIDE groups, split by tower (a tower's ``num_class`` columns each), to the
towers' logits. A model with no other group (only WIDE groups and towers without ``mlp``)
is a logistic regression: the towers' heads are their bias.

Config checks only here (no TensorFlow); the layer side is in
:class:`easymtl.features.embedding.FeatureInputs`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.features.base import zch_kind

WIDE_GROUP_TYPE = 1  # FeatureGroupType.WIDE


def wide_table_name(table: str) -> str:
    """The wide table of features whose (deep) table is `table`: ``<table>_wide``, as
    TorchEasyRec names it."""
    return f"{table}_wide"


def check_wide_group(group, where: str, sequences: set[str], protos: dict) -> None:
    """Raises ConfigError on a WIDE group with sequence groups or encoders, or naming a
    sequence feature or a zch (dynamicemb) feature; `where` is the group's field path,
    `sequences` the names of the sequence features, `protos` each feature's message."""
    for name in ("sequence_groups", "sequence_encoders"):
        if len(getattr(group, name)):
            raise ConfigError(
                f"{where}.{name}",
                "a WIDE group sums its features' weights into the logits; sequences and "
                "their encoders go in a DEEP group",
            )
    for j, name in enumerate(group.feature_names):
        if name in sequences:
            raise ConfigError(
                f"{where}.feature_names[{j}]",
                f"{name!r} is a sequence feature; a WIDE group takes id, raw, combo, lookup "
                "and match features",
            )
        kind = zch_kind(protos[name])
        if kind:
            raise ConfigError(
                f"{where}.feature_names[{j}]",
                f"{name!r} maps its ids by a {kind} table; a WIDE group's weights are "
                "rows of hashed, bucketed or vocabulary ids: put it in a DEEP group",
            )


def check_wide_only(model_config, kind: str) -> None:
    """Raises ConfigError where every feature group is WIDE (a logistic regression) but
    the model is not simple_multi_task, or a tower has an mlp (nothing for them to read)."""
    from easymtl.towers import tower_fields

    if any(g.group_type != WIDE_GROUP_TYPE for g in model_config.feature_groups):
        return
    if kind != "simple_multi_task":
        raise ConfigError(
            "model_config.feature_groups",
            f"every group is WIDE: {kind} needs a DEEP group to read; a wide-only model "
            "(logistic regression) is simple_multi_task with towers without mlp",
        )
    for path, tower in tower_fields(model_config.simple_multi_task, "model_config." + kind):
        if tower.HasField("mlp"):
            raise ConfigError(
                f"{path}.mlp",
                "every group is WIDE, so the mlp has no input; leave it out (the tower is "
                "then the wide term plus a bias) or add a DEEP group",
            )
