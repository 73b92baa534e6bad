"""A task: one tower's label, losses, loss weight and metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import tensorflow as tf

from easymtl.losses import build_loss
from easymtl.metrics import build_metric


@dataclass
class Task:
    """What the runner needs to train and evaluate one tower.

    Args:
        name: The tower name; outputs are ``logits_<name>``, ``probs_<name>``.
        label_name: The label field it learns.
        losses: ``(loss name, fn(labels, logits) -> per-example loss)`` pairs; they add up.
        weight: Weight of this task's loss in the total loss.
        metric_builders: Functions making this task's fresh Keras metrics.
    """

    name: str
    label_name: str
    losses: list[tuple[str, Callable]]
    weight: float = 1.0
    metric_builders: list[Callable] = field(default_factory=list)

    # The values a label of this task may take, as data errors name them.
    label_domain: str = "{0, 1}"

    def label(self, labels: dict) -> tf.Tensor:
        return tf.cast(labels[self.label_name], tf.float32)

    def valid_labels(self, labels: dict) -> tf.Tensor:
        """[batch] bool: which rows' labels lie in :attr:`label_domain`."""
        y = self.label(labels)
        return tf.logical_or(tf.equal(y, 0.0), tf.equal(y, 1.0))

    def loss(self, labels: dict, outputs: dict) -> tf.Tensor:
        """The task's loss (its losses summed, each averaged over the batch)."""
        y = self.label(labels)
        logits = outputs[f"logits_{self.name}"]
        return tf.add_n([tf.reduce_mean(fn(y, logits)) for _, fn in self.losses])

    def make_metrics(self) -> list:
        return [build() for build in self.metric_builders]

    def update_metrics(self, metrics: list, labels: dict, outputs: dict) -> None:
        y = self.label(labels)
        for metric in metrics:
            metric.update_state(y, outputs[f"probs_{self.name}"])


def build_tasks(task_towers) -> list[Task]:
    """One Task per TaskTower message, in order."""
    return [
        Task(
            name=t.tower_name,
            label_name=t.label_name,
            losses=[build_loss(lc) for lc in t.losses],
            weight=t.weight,
            metric_builders=[
                (lambda mc=mc, name=t.tower_name: build_metric(mc, name)) for mc in t.metrics
            ],
        )
        for t in task_towers
    ]
