"""aitm: Adaptive Information Transfer Multi-task (Xi et al., KDD 2021).

Binary tasks along a funnel (click, then conversion), each learned over every
impression; each task's tower takes in information transferred from the previous
task's, and a calibrator loss keeps p_t <= p_(t-1).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import tensorflow as tf

from easymtl.errors import ConfigError
from easymtl.layers.aitm import AITM
from easymtl.losses import BINARY
from easymtl.models import mlp_kwargs, register_model
from easymtl.tasks import Task, build_tasks


@dataclass
class CalibratedTask(Task):
    """A task after the first of an AITM funnel: its loss adds the behavioural
    expectation calibrator ``calibrator_weight x mean(max(p - p_previous, 0))`` over
    every row of the batch, with p this task's probability and p_previous the previous
    task's (a conversion cannot be likelier than the click it needs).

    Args:
        previous_name: The previous task's tower name.
        calibrator_weight: The calibrator's weight (alpha; 0: none).
    """

    previous_name: str = ""
    calibrator_weight: float = 0.0

    def calibrator(self, outputs: dict) -> tf.Tensor:
        """mean(max(p - p_previous, 0)) over the batch."""
        gap = outputs[f"probs_{self.name}"] - outputs[f"probs_{self.previous_name}"]
        return tf.reduce_mean(tf.nn.relu(gap))

    def loss(self, labels: dict, outputs: dict) -> tf.Tensor:
        loss = super().loss(labels, outputs)
        if self.calibrator_weight:
            loss += self.calibrator_weight * self.calibrator(outputs)
        return loss


def build_aitm_tasks(config, where: str) -> list[Task]:
    """The first task, then a :class:`CalibratedTask` per later tower.

    Raises:
        ConfigError: fewer than two towers, a tower that is not binary or has no mlp,
            towers or info_mlp of different widths, or a negative calibrator_weight.
    """
    towers = list(config.task_towers)
    if len(towers) < 2:
        raise ConfigError(
            f"{where}.task_towers", "AITM transfers information between tasks: give two or more"
        )
    tasks = build_tasks(towers, f"{where}.task_towers")
    width = None
    for i, (tower, task) in enumerate(zip(towers, tasks)):
        path = f"{where}.task_towers[{i}]"
        if task.task_type != BINARY:
            raise ConfigError(
                f"{path}.losses",
                f"AITM's tasks are binary steps of a funnel; got {task.task_type} losses",
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
    if not 0 <= config.calibrator_weight < float("inf"):
        raise ConfigError(
            f"{where}.calibrator_weight", f"must be a number >= 0, got {config.calibrator_weight}"
        )
    fields = [f.name for f in dataclasses.fields(Task)]
    return tasks[:1] + [
        CalibratedTask(
            **{name: getattr(task, name) for name in fields},
            previous_name=previous.name,
            calibrator_weight=config.calibrator_weight,
        )
        for previous, task in zip(tasks, tasks[1:])
    ]


@register_model("aitm", tasks=build_aitm_tasks, heads_only=True)
def build_aitm(config, num_tasks: int) -> AITM:
    return AITM(
        [mlp_kwargs(t.mlp) for t in config.task_towers],
        info_mlp=mlp_kwargs(config.info_mlp) if config.HasField("info_mlp") else None,
        name="aitm",
    )
