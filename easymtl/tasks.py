"""A task: one tower's label, task type, losses, loss weight, sample space and metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import tensorflow as tf

from easymtl.losses import BINARY, MULTICLASS, REGRESSION, build_loss, loss_columns
from easymtl.metrics import build_metric
from easymtl.towers import (
    check_losses,
    check_metrics,
    check_tower,
    output_name,
    tower_metric_columns,
    two_class_metric,
)
from easymtl.train_metrics import train_metric_builders


@dataclass
class Task:
    """What the runner needs to train and evaluate one tower.

    Args:
        name: The tower name; its outputs are ``logits_<name>`` and ``probs_<name>``
            (binary, multiclass) or ``y_<name>`` (regression).
        label_name: The label field it learns.
        losses: ``(loss name, fn(labels, predictions, *columns) -> per-example loss)``
            pairs; they add up.
        weight: Weight of this task's loss in the total loss.
        metric_builders: Functions making this task's fresh Keras metrics.
        task_type: "binary", "regression" or "multiclass".
        num_class: Number of classes of a multiclass task, else 1.
        task_space_indicator_label: Label field marking the task's sample space (rows
            where it is > 0), or None: every row is in it.
        in_task_space_weight: Loss weight of an in-space row.
        out_task_space_weight: Loss weight of an out-of-space row.
        average_over_task_space: Divide the summed weighted loss by the number of
            in-space rows of the batch, not by the sum of the rows' weights.
        metrics_over_task_space: Metrics see the in-space rows only (else every row,
            as TorchEasyRec's).
        sample_weight_name: Field holding each row's loss weight, or None.
        metric_columns: Input fields its metrics read besides the label (GAUC's
            grouping key).
        train_metric_builders: Functions making this task's train metrics
            (:class:`~easymtl.train_metrics.TrainMetric`).
        loss_columns: Per loss, the input columns it reads after the predictions
            (jrc_loss's session); empty lists for the others.

    The task's loss is ``sum_i w_i * l_i / sum_i w_i`` (TorchEasyRec's: the weights
    normalised by their batch mean): ``l_i`` the row's losses summed, ``w_i`` its sample
    weight times its space weight; without weights, the batch mean of ``l_i``. With
    `average_over_task_space`, ``sum_i w_i * l_i / n``, ``n`` the batch's in-space rows.
    """

    name: str
    label_name: str
    losses: list[tuple[str, Callable]]
    weight: float = 1.0
    metric_builders: list[Callable] = field(default_factory=list)
    task_type: str = BINARY
    num_class: int = 1
    task_space_indicator_label: str | None = None
    in_task_space_weight: float = 1.0
    out_task_space_weight: float = 1.0
    average_over_task_space: bool = False
    sample_weight_name: str | None = None
    metric_columns: list[str] = field(default_factory=list)
    metrics_over_task_space: bool = False
    train_metric_builders: list[Callable] = field(default_factory=list)
    loss_columns: list[list[str]] = field(default_factory=list)

    @property
    def label_domain(self) -> str:
        """The values a label of this task may take, as data errors name them."""
        if self.task_type == REGRESSION:
            return "any finite number"
        if self.task_type == MULTICLASS:
            return f"an integer in [0, {self.num_class})"
        return "{0, 1}"

    @property
    def columns(self) -> list[str]:
        """The input fields this task reads besides the features: its label, space
        indicator, sample weight and the columns its metrics read."""
        read = [c for cs in self.loss_columns for c in cs]
        extra = (
            self.task_space_indicator_label,
            self.sample_weight_name,
            *self.metric_columns,
            *read,
        )
        return list(dict.fromkeys([self.label_name, *(c for c in extra if c)]))

    @property
    def prediction_name(self) -> str:
        """The output its metrics read: ``y_<name>`` or ``probs_<name>``."""
        return output_name("y" if self.task_type == REGRESSION else "probs", self.name)

    @property
    def loss_input_name(self) -> str:
        """The output its losses read: ``y_<name>`` or ``logits_<name>``."""
        return output_name("y" if self.task_type == REGRESSION else "logits", self.name)

    @property
    def loss_name(self) -> str:
        """Its loss in evaluation results: ``loss_<name>`` (a ranker's task: ``loss``)."""
        return output_name("loss", self.name)

    def label(self, labels: dict) -> tf.Tensor:
        """[batch] float32 label (a class id for a multiclass task)."""
        return tf.cast(labels[self.label_name], tf.float32)

    def valid_labels(self, labels: dict) -> tf.Tensor:
        """[batch] bool: which rows' labels lie in :attr:`label_domain`."""
        y = self.label(labels)
        if self.task_type == REGRESSION:
            return tf.math.is_finite(y)
        if self.task_type == MULTICLASS:
            return (tf.equal(y, tf.floor(y))) & (y >= 0.0) & (y < float(self.num_class))
        return tf.logical_or(tf.equal(y, 0.0), tf.equal(y, 1.0))

    def in_task_space(self, labels: dict) -> tf.Tensor | None:
        """[batch] bool: which rows are in the task's sample space (None: all)."""
        if not self.task_space_indicator_label:
            return None
        return tf.cast(labels[self.task_space_indicator_label], tf.float32) > 0.0

    def loss_weights(self, labels: dict) -> tf.Tensor | None:
        """[batch] loss weight of each row: sample weight times space weight (None: 1)."""
        weight = None
        if self.sample_weight_name:
            weight = tf.cast(labels[self.sample_weight_name], tf.float32)
        space = self.in_task_space(labels)
        if space is not None:
            in_space = tf.where(space, self.in_task_space_weight, self.out_task_space_weight)
            weight = in_space if weight is None else weight * in_space
        return weight

    def loss(self, labels: dict, outputs: dict) -> tf.Tensor:
        """The task's loss on a batch (see the class docstring)."""
        return self.weighted_loss(self.label(labels), outputs[self.loss_input_name], labels)

    def weighted_loss(self, y: tf.Tensor, predictions: tf.Tensor, labels: dict) -> tf.Tensor:
        """The task's losses of `predictions` against `y`, weighted and averaged by the
        rows' sample weights and sample space in `labels`."""
        columns = self.loss_columns or [[]] * len(self.losses)
        per_row = tf.add_n(
            [
                fn(y, predictions, *[labels[c] for c in cs])
                for (_, fn), cs in zip(self.losses, columns)
            ]
        )
        weight = self.loss_weights(labels)
        if weight is None:
            return tf.reduce_mean(per_row)
        total = tf.reduce_sum(per_row * weight)
        if self.average_over_task_space:
            in_space = tf.reduce_sum(tf.cast(self.in_task_space(labels), tf.float32))
            return tf.math.divide_no_nan(total, in_space)
        return tf.math.divide_no_nan(total, tf.reduce_sum(weight))

    def loss_normalizer(self, labels: dict) -> tf.Tensor:
        """What the task's summed weighted loss of a batch is divided by: the sum of the
        rows' weights, the batch's in-space rows (`average_over_task_space`), or its rows
        (no weights)."""
        weight = self.loss_weights(labels)
        if weight is None:
            return tf.cast(tf.size(self.label(labels)), tf.float32)
        if self.average_over_task_space:
            return tf.reduce_sum(tf.cast(self.in_task_space(labels), tf.float32))
        return tf.reduce_sum(weight)

    def make_metrics(self) -> list:
        return [build() for build in self.metric_builders]

    def metric_rows(self, labels: dict) -> tf.Tensor | None:
        """[batch] bool: the rows its metrics see (None: every row, the default)."""
        return self.in_task_space(labels) if self.metrics_over_task_space else None

    def update_metrics(self, metrics: list, labels: dict, outputs: dict) -> None:
        """Updates `metrics` with the batch's rows (its in-space rows with
        `metrics_over_task_space`)."""
        update_metrics(
            metrics,
            self.label(labels),
            outputs[self.prediction_name],
            labels,
            self.metric_rows(labels),
        )


def update_metrics(metrics: list, y, predictions, columns: dict, rows=None) -> None:
    """Updates each metric with `y` and `predictions`, and with the input `columns` it
    reads (its ``input_columns``), on the `rows` ([batch] bool; None: all) only."""

    def select(x):
        return x if rows is None else tf.boolean_mask(x, rows)

    y, predictions = select(y), select(predictions)
    for metric in metrics:
        extra = [select(columns[c]) for c in getattr(metric, "input_columns", ())]
        column = getattr(metric, "class_column", None)
        p = predictions if column is None else predictions[:, column]
        metric.update_state(y, p, *extra)


def tower_losses(tower, where: str = "task_tower") -> list[tuple[str, Callable]]:
    """The loss functions of a TaskTower message (ConfigError on a bad option)."""
    check_losses(tower, where)
    return [build_loss(loss) for loss in tower.losses]


def metric_builders(metrics, tower_name: str, task_type: str, num_class: int, where: str):
    """Builders of the metrics (MetricConfig messages) of a `task_type` tower, reported as
    ``<metric>_<tower_name>``.

    Raises:
        ConfigError: a metric that does not apply to the task type, or a bad option;
            `where` is the path of the repeated `metrics` field.
    """
    check_metrics(metrics, task_type, num_class, where)

    def build(mc):
        if not two_class_metric(mc.WhichOneof("metric"), task_type, num_class):
            return build_metric(mc, tower_name, num_class)
        # TorchEasyRec's probs1: a binary metric of a two-class tower reads class 1.
        metric = build_metric(mc, tower_name, 1)
        metric.class_column = 1
        return metric

    return [lambda mc=mc: build(mc) for mc in metrics]


def build_task(
    tower, where: str = "task_tower", feature_columns: dict[str, str] | None = None
) -> Task:
    """The Task of a TaskTower message; `feature_columns` maps the features its losses
    read (jrc_loss's session_name) to their input columns (default: the same name).

    Raises:
        ConfigError: a bad loss, metric, num_class or sample space, naming the field
            under `where`.
    """
    task_type = check_tower(tower, where)
    return Task(
        name=tower.tower_name,
        label_name=tower.label_name,
        losses=tower_losses(tower, where),
        loss_columns=[
            [(feature_columns or {}).get(c, c) for c in loss_columns(loss)] for loss in tower.losses
        ],
        weight=tower.weight,
        metric_builders=metric_builders(
            tower.metrics, tower.tower_name, task_type, tower.num_class, f"{where}.metrics"
        ),
        task_type=task_type,
        num_class=tower.num_class,
        task_space_indicator_label=tower.task_space_indicator_label or None,
        in_task_space_weight=tower.in_task_space_weight,
        out_task_space_weight=tower.out_task_space_weight,
        average_over_task_space=tower.average_over_task_space,
        sample_weight_name=tower.sample_weight_name or None,
        metric_columns=tower_metric_columns(tower),
        metrics_over_task_space=tower.metrics_over_task_space,
        train_metric_builders=train_metric_builders(
            tower.train_metrics,
            tower.tower_name,
            task_type,
            tower.num_class,
            f"{where}.train_metrics",
        ),
    )


def build_tasks(
    task_towers, where: str = "task_towers", feature_columns: dict[str, str] | None = None
) -> list[Task]:
    """One Task per TaskTower message, in order (`feature_columns`: as build_task's)."""
    return [build_task(t, f"{where}[{i}]", feature_columns) for i, t in enumerate(task_towers)]


# A regression tower whose weighted loss is this many times the largest classification
# tower's sets the shared parameters' gradients alone.
SWAMP_RATIO = 100.0


def loss_scale_warnings(tasks: list[Task], losses: dict[str, float]) -> list[str]:
    """Warnings for regression towers whose weighted loss (``weight`` × loss, e.g. of the
    first training step, when it is about the label's mean square) exceeds SWAMP_RATIO
    times the largest weighted loss of the binary and multiclass towers.

    Args:
        tasks: The tasks.
        losses: Each task's loss by tower name.
    """
    classifiers = [t for t in tasks if t.task_type != REGRESSION and t.weight > 0]
    if not classifiers:
        return []
    top = max(classifiers, key=lambda t: t.weight * losses[t.name])
    reference = top.weight * losses[top.name]
    warnings = []
    for task in tasks:
        weighted = task.weight * losses[task.name]
        if task.task_type != REGRESSION or not weighted > SWAMP_RATIO * max(reference, 1e-12):
            continue
        weight = task.weight * reference / weighted
        warnings.append(
            f"tower {task.name!r}: its loss ({weighted:.4g}, weighted) is "
            f"{weighted / reference:.0f}x tower {top.name!r}'s ({reference:.4g}): the label "
            f"{task.label_name!r} is on a scale whose gradients swamp the other towers'. "
            f"Scale the label in the data (e.g. log1p, or divide by its standard deviation), "
            f"or set the tower's weight near {weight:.2g}, or use huber_loss "
            "(docs/troubleshooting.md, regression label scale)"
        )
    return warnings
