"""multi_tower: one MLP tower per feature group, then a final MLP (TorchEasyRec's
MultiTower). The layer is :class:`easymtl.layers.multi_tower.MultiTower`."""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.models import MODELS, mlp_kwargs
from easymtl.models.rank import SEQUENCE, need_group, only_groups


def check_towers(config, where: str, groups, kind: str) -> list[str]:
    """The groups of the towers: each a DEEP group, read by one tower. Returns their
    names."""
    read = []
    for i, tower in enumerate(config.towers):
        group = need_group(groups, tower.input, kind, f"towers[{i}].input")
        if group.group_type != 0:
            raise ConfigError(
                f"{where}.towers[{i}].input",
                f"{tower.input!r} is not a DEEP group; a tower's MLP reads a DEEP group"
                + (
                    "; a SEQUENCE group is a din_towers entry"
                    if group.group_type == SEQUENCE
                    else ""
                ),
            )
        if tower.input in read:
            raise ConfigError(f"{where}.towers[{i}].input", f"{tower.input!r} has a tower already")
        read.append(tower.input)
    return read


def check_multi_tower(config, where: str) -> None:
    if not config.towers:
        raise ConfigError(f"{where}.towers", "at least one tower is needed")


def check_multi_tower_inputs(config, where: str, groups) -> None:
    only_groups(groups, check_towers(config, where, groups, "multi_tower"), "multi_tower")


@MODELS.register("multi_tower", check=check_multi_tower, rank=True, inputs=check_multi_tower_inputs)
def build_multi_tower(config, groups, num_class: int):
    """The :class:`~easymtl.layers.multi_tower.MultiTower` of a MultiTower message."""
    from easymtl.layers.multi_tower import MultiTower

    towers = [[t.input, mlp_kwargs(t.mlp) if t.HasField("mlp") else None] for t in config.towers]
    return MultiTower(towers, mlp_kwargs(config.final), num_class, name="multi_tower")
