"""aitm: Adaptive Information Transfer Multi-task (Xi et al., KDD 2021).

Binary tasks along a funnel (click, then conversion), each learned over every
impression; each task's tower takes in information transferred from the previous
task's, and a calibrator loss keeps p_t <= p_(t-1).
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.losses import BINARY
from easymtl.models import MODELS, mlp_kwargs
from easymtl.towers import tower_task_type

# The AIT attentions, as easymtl.layers.aitm.ATTENTIONS (which imports Keras) has them.
ATTENTIONS = ("self", "own_query")


def check_aitm(config, where: str) -> None:
    """Raises ConfigError on fewer than two towers, a tower that is not binary or has no
    mlp, towers or info_mlp of different widths, or a negative calibrator_weight."""
    towers = list(config.task_towers)
    if len(towers) < 2:
        raise ConfigError(
            f"{where}.task_towers", "AITM transfers information between tasks: give two or more"
        )
    width = None
    for i, tower in enumerate(towers):
        path = f"{where}.task_towers[{i}]"
        task_type = tower_task_type(tower, path)
        if task_type != BINARY:
            raise ConfigError(
                f"{path}.losses",
                f"AITM's tasks are binary steps of a funnel; got {task_type} losses",
            )
        if not tower.HasField("mlp"):
            raise ConfigError(f"{path}.mlp", "AITM needs each tower's mlp (its tower network)")
        last = tower.mlp.hidden_units[-1] if tower.mlp.hidden_units else None
        if width is not None and last != width:
            raise ConfigError(
                f"{path}.mlp.hidden_units",
                f"the last layer has {last} units, the first tower's {width}: the AIT "
                "attention mixes towers of one width",
            )
        width = last if width is None else width
    if config.HasField("info_mlp") and list(config.info_mlp.hidden_units)[-1:] != [width]:
        raise ConfigError(
            f"{where}.info_mlp.hidden_units",
            f"the last layer must have {width} units, as the towers' mlps",
        )
    if config.output_mlps and len(config.output_mlps) != len(towers):
        raise ConfigError(
            f"{where}.output_mlps", f"give one per task tower ({len(towers)}), or none"
        )
    if config.ait_attention not in ATTENTIONS:
        raise ConfigError(
            f"{where}.ait_attention",
            f"{config.ait_attention!r} is not an AIT attention; expected "
            + " or ".join(repr(a) for a in ATTENTIONS),
        )
    if not 0 <= config.calibrator_weight < float("inf"):
        raise ConfigError(
            f"{where}.calibrator_weight", f"must be a number >= 0, got {config.calibrator_weight}"
        )


def build_aitm_tasks(config, where: str) -> list:
    """The first task, then a :class:`~easymtl.layers.aitm.CalibratedTask` per later
    tower (`config` checked by :func:`check_aitm`)."""
    from easymtl.layers.aitm import calibrated_tasks
    from easymtl.tasks import build_tasks

    tasks = build_tasks(config.task_towers, f"{where}.task_towers")
    return calibrated_tasks(tasks, config.calibrator_weight)


@MODELS.register("aitm", check=check_aitm, tasks=build_aitm_tasks, heads_only=True)
def build_aitm(config, num_tasks: int):
    """The :class:`~easymtl.layers.aitm.AITM` of an AITM message."""
    from easymtl.layers.aitm import AITM

    return AITM(
        [mlp_kwargs(t.mlp) for t in config.task_towers],
        info_mlp=mlp_kwargs(config.info_mlp) if config.HasField("info_mlp") else None,
        bottom_mlp=mlp_kwargs(config.bottom_mlp) if config.HasField("bottom_mlp") else None,
        output_mlps=[mlp_kwargs(m) for m in config.output_mlps] or None,
        stop_gradient=config.stop_gradient,
        attention=config.ait_attention,
        name="aitm",
    )
