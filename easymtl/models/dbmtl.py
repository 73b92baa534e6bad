"""dbmtl: Deep Bayesian Multi-Target Learning (Q. Wang et al., 2019), as TorchEasyRec has it.

A bottom MLP and/or an MMoE, then per task its own MLP and a relation MLP that also takes
in the representations of the earlier towers it names, so that later tasks (cvr) are
conditioned on earlier ones (ctr).
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.models import MODELS, mlp_kwargs
from easymtl.models.blocks import block_spec, check_block, check_mask_net_module, mask_net_kwargs
from easymtl.models.mmoe import expert_spec

_MMOE_FIELDS = ("gate_mlp", "num_expert", "gate_temperature", "gate_dropout_ratio")


def check_dbmtl(config, where: str) -> None:
    """The checks of the towers' relations and of the MMoE part.

    Raises:
        ConfigError: a tower without label_name, a relation to a tower that is not an
            earlier one, relation_tower_names without relation_mlp, or MMoE fields
            without expert_mlp.
    """
    earlier: list[str] = []
    for i, tower in enumerate(config.task_towers):
        path = f"{where}.task_towers[{i}]"
        if not tower.label_name:
            raise ConfigError(
                f"{path}.label_name",
                "is required (TorchEasyRec's default, the label_fields in order, is not supported)",
            )
        for j, name in enumerate(tower.relation_tower_names):
            if name not in earlier:
                raise ConfigError(
                    f"{path}.relation_tower_names[{j}]",
                    f"{name!r} is not a tower listed before {tower.tower_name!r} "
                    f"({', '.join(earlier) or 'none'}); a tower takes in earlier towers only",
                )
        if tower.relation_tower_names and not tower.HasField("relation_mlp"):
            raise ConfigError(
                f"{path}.relation_mlp",
                "is needed with relation_tower_names: it combines the related towers' "
                "representations with this tower's",
            )
        earlier.append(tower.tower_name)
    if config.HasField("bottom_mlp") and config.HasField("bottom"):
        raise ConfigError(f"{where}.bottom", "set bottom_mlp or bottom (any block), not both")
    if config.HasField("bottom"):
        check_block(config.bottom, f"{where}.bottom")
    if config.HasField("mask_net"):
        check_mask_net_module(config.mask_net, f"{where}.mask_net")
    if config.HasField("expert_mlp") and config.HasField("expert"):
        raise ConfigError(f"{where}.expert", "set expert_mlp or expert (any block), not both")
    if config.HasField("expert"):
        check_block(config.expert, f"{where}.expert")
    if not config.HasField("expert_mlp") and not config.HasField("expert"):
        for name in _MMOE_FIELDS:
            if config.HasField(name):
                raise ConfigError(f"{where}.{name}", "needs expert_mlp (the MMoE part)")


@MODELS.register("dbmtl", check=check_dbmtl, heads_only=True)
def build_dbmtl(config, num_tasks: int):
    """The :class:`~easymtl.layers.dbmtl.DBMTL` of a DBMTL message."""
    from easymtl.layers.dbmtl import DBMTL

    towers = list(config.task_towers)
    names = [t.tower_name for t in towers]
    mmoe = None
    if config.HasField("expert_mlp") or config.HasField("expert"):
        mmoe = {
            "num_expert": config.num_expert,
            "expert_mlp": expert_spec(config),
            "gate_mlp": mlp_kwargs(config.gate_mlp) if config.HasField("gate_mlp") else None,
            "gate_temperature": config.gate_temperature,
            "gate_dropout_ratio": config.gate_dropout_ratio,
        }
    return DBMTL(
        num_tasks,
        bottom_mlp=(
            block_spec(config.bottom)
            if config.HasField("bottom")
            else mlp_kwargs(config.bottom_mlp)
            if config.HasField("bottom_mlp")
            else None
        ),
        mask_net=mask_net_kwargs(config.mask_net) if config.HasField("mask_net") else None,
        mmoe=mmoe,
        task_mlps=[mlp_kwargs(t.mlp) if t.HasField("mlp") else None for t in towers],
        relations=[[names.index(r) for r in t.relation_tower_names] for t in towers],
        relation_mlps=[
            mlp_kwargs(t.relation_mlp) if t.HasField("relation_mlp") else None for t in towers
        ],
        name="dbmtl",
    )
