"""ESMM's Keras model and its CVR task (Ma et al., SIGIR 2018): the pCTCVR outputs of
the model, and the CVR task learned through them over the entire space. The config side
(check, registration) is :mod:`easymtl.models.esmm`; the pCTCVR logit is
:func:`easymtl.layers.esmm.ctcvr_logits`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import keras
import tensorflow as tf

from easymtl.layers.esmm import ctcvr_logits
from easymtl.losses import BINARY
from easymtl.models.esmm import CTCVR
from easymtl.models.model import MultiTaskModel
from easymtl.tasks import Task, build_task, metric_builders, update_metrics


@keras.saving.register_keras_serializable(package="easymtl")
class ESMM(MultiTaskModel):
    """ESMM: a :class:`MultiTaskModel` whose two towers are CTR then CVR, with the
    derived outputs ``probs_ctcvr = probs_<ctr> × probs_<cvr>`` and ``logits_ctcvr``.

    Args:
        features: The input layer (raw columns → feature group tensors).
        towers: The CTR tower, then the CVR tower (binary TaskTowers), by tower name.
        backbone: Shared layers under both towers, or None (the paper's shared
            embeddings only).
        fusion: The fused ranking score, or None.

    Example:
        >>> towers = {"ctr": TaskTower({"hidden_units": [8]}), "cvr": TaskTower(None)}
        >>> model = ESMM(FeatureInputs(...), towers)  # doctest: +SKIP
        >>> sorted(model(raw_columns))  # doctest: +SKIP
        ['logits_ctcvr', 'logits_ctr', 'logits_cvr', 'probs_ctcvr', 'probs_ctr', 'probs_cvr']
    """

    def __init__(self, features, towers, backbone=None, fusion=None, **kwargs):
        super().__init__(features, towers, backbone, fusion, **kwargs)
        if len(self.towers) != 2 or CTCVR in self.towers:
            raise ValueError(
                f"`towers` must be a CTR and a CVR tower, neither named {CTCVR!r}. "
                f"Received: {list(self.towers)}"
            )

    def task_outputs(self, inputs, training=None, return_gates=False, tiled_inputs=()):
        outputs = super().task_outputs(
            inputs, training=training, return_gates=return_gates, tiled_inputs=tiled_inputs
        )
        ctr, cvr = self.towers
        outputs[f"probs_{CTCVR}"] = outputs[f"probs_{ctr}"] * outputs[f"probs_{cvr}"]
        outputs[f"logits_{CTCVR}"] = ctcvr_logits(
            outputs[f"logits_{ctr}"], outputs[f"logits_{cvr}"]
        )
        return outputs


@dataclass
class EntireSpaceTask(Task):
    """ESMM's CVR task: its losses apply to pCTCVR against click × conversion over every
    row; its metrics to probs_<cvr> on clicked rows (its sample space, marked by the
    click label) and, as ``<metric>_ctcvr``, to probs_ctcvr on every row.

    Args:
        click_label_name: The click label (the CTR tower's).
        ctcvr_metric_builders: Functions making the ``<metric>_ctcvr`` metrics.
    """

    click_label_name: str = ""
    ctcvr_metric_builders: list = field(default_factory=list)

    def ctcvr_label(self, labels: dict) -> tf.Tensor:
        return self.label(labels) * tf.cast(labels[self.click_label_name], tf.float32)

    def loss(self, labels: dict, outputs: dict) -> tf.Tensor:
        return self.weighted_loss(self.ctcvr_label(labels), outputs[f"logits_{CTCVR}"], labels)

    def make_metrics(self) -> list:
        return super().make_metrics() + [build() for build in self.ctcvr_metric_builders]

    def update_metrics(self, metrics: list, labels: dict, outputs: dict) -> None:
        n = len(self.metric_builders)
        super().update_metrics(metrics[:n], labels, outputs)
        update_metrics(metrics[n:], self.ctcvr_label(labels), outputs[f"probs_{CTCVR}"], labels)


def entire_space_tasks(ctr: Task, cvr: Task, cvr_metrics, where: str) -> list[Task]:
    """The CTR task, and `cvr` made the :class:`EntireSpaceTask` whose sample space is
    the clicked rows; `cvr_metrics` (MetricConfig messages at `where`) also score
    probs_ctcvr."""
    fields = {f.name: getattr(cvr, f.name) for f in dataclasses.fields(Task)}
    fields["task_space_indicator_label"] = ctr.label_name
    fields["metrics_over_task_space"] = True
    return [
        ctr,
        EntireSpaceTask(
            **fields,
            click_label_name=ctr.label_name,
            ctcvr_metric_builders=metric_builders(cvr_metrics, CTCVR, BINARY, 1, where),
        ),
    ]


def build_esmm_tasks(config, where: str) -> list:
    """The CTR task and the CVR :class:`EntireSpaceTask` of an ESMM message (checked by
    :func:`~easymtl.models.esmm.check_esmm`)."""
    ctr = build_task(config.ctr_tower, f"{where}.ctr_tower")
    cvr = build_task(config.cvr_tower, f"{where}.cvr_tower")
    return entire_space_tasks(ctr, cvr, config.cvr_tower.metrics, f"{where}.cvr_tower.metrics")
