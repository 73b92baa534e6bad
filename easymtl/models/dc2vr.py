"""dc2vr: TorchEasyRec's DC2VR (deconfounding conversion rate): a bottom MLP and/or an
MMoE, each task's MLP, and for towers with low_rank_dim an intervention by earlier
towers' representations (InterventionTaskTower). The layer is
:class:`easymtl.layers.dc2vr.DC2VR`."""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.models import MODELS, mlp_kwargs
from easymtl.models.dbmtl import _MMOE_FIELDS


def check_dc2vr(config, where: str) -> None:
    """Raises ConfigError on a tower without label_name, an intervention by a tower that
    is not an earlier one or without low_rank_dim, or MMoE fields without expert_mlp."""
    earlier: list[str] = []
    for i, tower in enumerate(config.task_towers):
        path = f"{where}.task_towers[{i}]"
        if not tower.label_name:
            raise ConfigError(
                f"{path}.label_name",
                "is required (TorchEasyRec's default, the label_fields in order, is not supported)",
            )
        for j, name in enumerate(tower.intervention_tower_names):
            if name not in earlier:
                raise ConfigError(
                    f"{path}.intervention_tower_names[{j}]",
                    f"{name!r} is not a tower listed before {tower.tower_name!r} "
                    f"({', '.join(earlier) or 'none'}); a tower is intervened on by earlier "
                    "towers only",
                )
        if tower.HasField("low_rank_dim") != bool(tower.intervention_tower_names):
            field = "low_rank_dim" if tower.intervention_tower_names else "intervention_tower_names"
            raise ConfigError(
                f"{path}.{field}",
                "an intervention needs both low_rank_dim and intervention_tower_names",
            )
        if tower.HasField("low_rank_dim") and tower.low_rank_dim == 0:
            raise ConfigError(f"{path}.low_rank_dim", "must be positive")
        if not 0 <= tower.dropout_ratio < 1:
            raise ConfigError(f"{path}.dropout_ratio", "must be in [0, 1)")
        earlier.append(tower.tower_name)
    if not config.HasField("expert_mlp"):
        for name in _MMOE_FIELDS[:2]:
            if config.HasField(name):
                raise ConfigError(f"{where}.{name}", "needs expert_mlp (the MMoE part)")


@MODELS.register("dc2vr", check=check_dc2vr, heads_only=True)
def build_dc2vr(config, num_tasks: int):
    """The :class:`~easymtl.layers.dc2vr.DC2VR` of a DC2VR message."""
    from easymtl.layers.dc2vr import DC2VR

    towers = list(config.task_towers)
    names = [t.tower_name for t in towers]
    mmoe = None
    if config.HasField("expert_mlp"):
        mmoe = {
            "num_expert": config.num_expert,
            "expert_mlp": mlp_kwargs(config.expert_mlp),
            "gate_mlp": mlp_kwargs(config.gate_mlp) if config.HasField("gate_mlp") else None,
        }
    return DC2VR(
        num_tasks,
        bottom_mlp=mlp_kwargs(config.bottom_mlp) if config.HasField("bottom_mlp") else None,
        mmoe=mmoe,
        task_mlps=[mlp_kwargs(t.mlp) if t.HasField("mlp") else None for t in towers],
        interventions=[
            [[names.index(n) for n in t.intervention_tower_names], t.low_rank_dim, t.dropout_ratio]
            if t.HasField("low_rank_dim")
            else None
            for t in towers
        ],
        name="dc2vr",
    )
