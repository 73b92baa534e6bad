"""multi_tower_din: multi_tower with DIN towers over SEQUENCE groups (TorchEasyRec's
MultiTowerDIN). A DIN tower is the din_encoder (exact_match: false, TorchEasyRec's DIN)
that the model adds to its SEQUENCE group, whose tensor is then the attention's output;
the layer is :class:`easymtl.layers.multi_tower.MultiTower`."""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.models import MODELS, mlp_kwargs
from easymtl.models.multi_tower import check_towers
from easymtl.models.rank import SEQUENCE, group_path, need_group, only_groups


def check_multi_tower_din(config, where: str) -> None:
    if not config.towers and not config.din_towers:
        raise ConfigError(f"{where}.towers", "at least one tower or din_towers entry is needed")


def check_multi_tower_din_inputs(config, where: str, groups) -> None:
    read = check_towers(config, where, groups, "multi_tower_din")
    for i, tower in enumerate(config.din_towers):
        group = need_group(groups, tower.input, "multi_tower_din", f"din_towers[{i}].input")
        if group.group_type != SEQUENCE:
            raise ConfigError(
                f"{where}.din_towers[{i}].input",
                f"{tower.input!r} is not a SEQUENCE group; a DIN tower attends over a "
                "SEQUENCE group's query and sequence features",
            )
        if group.encoders:
            raise ConfigError(
                f"{group_path(groups, tower.input)}.sequence_encoders",
                f"group {tower.input!r} is a DIN tower's input: the tower is its encoder",
            )
        if tower.input in read:
            raise ConfigError(
                f"{where}.din_towers[{i}].input", f"{tower.input!r} has a tower already"
            )
        read.append(tower.input)
    only_groups(groups, read, "multi_tower_din")


def din_feature_groups(config, feature_groups) -> list:
    """The feature groups with each DIN tower's din_encoder in its SEQUENCE group."""
    from easymtl.protos import model_pb2

    towers = {t.input: t for t in config.din_towers}
    groups = []
    for g in feature_groups:
        if g.group_name in towers:
            g = model_pb2.FeatureGroupConfig().FromString(g.SerializeToString())
            encoder = g.sequence_encoders.add().din_encoder
            encoder.name = f"din_{g.group_name}"
            encoder.attn_mlp.CopyFrom(towers[g.group_name].attn_mlp)
            encoder.exact_match = False
        groups.append(g)
    return groups


@MODELS.register(
    "multi_tower_din",
    check=check_multi_tower_din,
    rank=True,
    inputs=check_multi_tower_din_inputs,
    feature_groups=din_feature_groups,
)
def build_multi_tower_din(config, groups, num_class: int):
    """The :class:`~easymtl.layers.multi_tower.MultiTower` of a MultiTowerDIN message:
    its towers, then its DIN towers (read as they are)."""
    from easymtl.layers.multi_tower import MultiTower

    towers = [[t.input, mlp_kwargs(t.mlp) if t.HasField("mlp") else None] for t in config.towers]
    towers += [[t.input, None] for t in config.din_towers]
    return MultiTower(towers, mlp_kwargs(config.final), num_class, name="multi_tower_din")
