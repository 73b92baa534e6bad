"""esmm: Entire Space Multi-task Model (Ma et al., SIGIR 2018).

A CTR tower and a CVR tower over the shared embeddings; pCTCVR = pCTR × pCVR. The CTR
tower learns the click over all impressions, and the CVR tower is learned only through
pCTCVR against click × conversion, also over all impressions: no sample-selection bias
(the CVR model is trained where it is used) and no sparsity (it borrows the CTR data).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import keras
import tensorflow as tf
from keras import ops

from easymtl.errors import ConfigError
from easymtl.losses import BINARY
from easymtl.models import register_model
from easymtl.models.model import MultiTaskModel
from easymtl.tasks import Task, build_task, metric_builders, update_metrics

CTCVR = "ctcvr"


def ctcvr_logits(ctr_logits, cvr_logits):
    """The logit of sigmoid(a) × sigmoid(b), computed in log space, so that the loss of
    pCTCVR is a sigmoid cross entropy that stays finite and smooth for any a, b.

    log p = log σ(a) + log σ(b); log(1 - p) = log(σ(-a) + σ(a) σ(-b)).
    """
    a, b = ctr_logits, cvr_logits
    log_p = -ops.softplus(-a) - ops.softplus(-b)
    log_not_p = ops.logaddexp(-ops.softplus(a), -ops.softplus(-a) - ops.softplus(b))
    return log_p - log_not_p


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

    def task_outputs(self, inputs, training=None, return_gates=False):
        outputs = super().task_outputs(inputs, training=training, return_gates=return_gates)
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


_SPACE_FIELDS = ("task_space_indicator_label", "average_over_task_space")


def build_esmm_tasks(config, where: str) -> list[Task]:
    """The CTR task and the CVR :class:`EntireSpaceTask` of an ESMM message.

    Raises:
        ConfigError: a tower that is not binary, sets a sample space of its own, or is
            named "ctcvr".
    """
    tasks = []
    for name in ("ctr_tower", "cvr_tower"):
        tower, path = getattr(config, name), f"{where}.{name}"
        task = build_task(tower, path)
        if task.task_type != BINARY:
            raise ConfigError(
                f"{path}.losses",
                f"ESMM's towers are binary (pCTCVR = pCTR x pCVR); got {task.task_type} losses",
            )
        for space in _SPACE_FIELDS:
            if tower.HasField(space):
                raise ConfigError(
                    f"{path}.{space}",
                    "ESMM learns both towers over all impressions and scores the CVR tower on "
                    "clicked impressions by itself; leave the sample space unset",
                )
        if task.name == CTCVR:
            raise ConfigError(f"{path}.tower_name", f"{CTCVR!r} names ESMM's derived output")
        tasks.append(task)
    ctr, cvr = tasks
    fields = {f.name: getattr(cvr, f.name) for f in dataclasses.fields(Task)}
    fields["task_space_indicator_label"] = ctr.label_name
    cvr = EntireSpaceTask(
        **fields,
        click_label_name=ctr.label_name,
        ctcvr_metric_builders=metric_builders(
            config.cvr_tower.metrics, CTCVR, BINARY, 1, f"{where}.cvr_tower.metrics"
        ),
    )
    return [ctr, cvr]


@register_model("esmm", model_class=ESMM, tasks=build_esmm_tasks)
def build_esmm(config, num_tasks: int) -> None:
    return None
