"""train_metrics: a tower's metrics during training, TorchEasyRec's ``train_metrics``.

A tower's ``train_metrics { auc {} decay_rate: 0.9 decay_step: 100 }`` is a running
value over the training batches (every row, as TorchEasyRec's), logged with the train
log and written to TensorBoard (``model_dir/train``, tag ``metric/<metric>_<tower>``, as
TorchEasyRec's). As in TorchEasyRec (``TrainMetricWrapper``, ``DecayAUC``): the batches
of ``decay_step`` steps are gathered; then an AUC's histograms become ``decay_rate ×``
the histograms so far ``+ (1 - decay_rate) ×`` the gathered ones (the first time: the
gathered ones) and the value is their AUC; any other metric's value becomes ``decay_rate
× value + (1 - decay_rate) ×`` its value on the gathered batches (the first time: that
value). Before the first ``decay_step`` steps the value is 0. The values restart with
each training process (they are not checkpointed).

The config side (:func:`easymtl.towers.check_train_metrics`) imports no TensorFlow.
"""

from __future__ import annotations

import logging

from easymtl.callbacks import Callback

log = logging.getLogger("easymtl")


def train_metric_builders(train_metrics, tower_name: str, task_type: str, num_class: int, where):
    """Builders of a tower's :class:`TrainMetric` objects (ConfigError on a bad one)."""
    from easymtl.towers import check_train_metrics, train_metric_config

    check_train_metrics(train_metrics, task_type, num_class, where)

    def build(tm):
        from easymtl.metrics import build_metric

        config = train_metric_config(tm)
        return TrainMetric(
            build_metric(config, tower_name, num_class),
            build_metric(config, tower_name, num_class),
            tm.decay_rate,
            tm.decay_step,
        )

    return [lambda tm=tm: build(tm) for tm in train_metrics]


class TrainMetric:
    """A decayed metric over training batches (see the module docstring).

    Args:
        gathered: The Keras metric fed the batches of the current `decay_step` steps.
        decayed: A Keras metric of the same kind holding the decayed histograms (AUC).
        decay_rate: Weight of the value so far at each decay.
        decay_step: Steps between decays.
    """

    def __init__(self, gathered, decayed, decay_rate: float, decay_step: int):
        if decay_step <= 0:
            raise ValueError(f"`decay_step` must be positive. Received: {decay_step}")
        self.gathered = gathered
        self.decayed = decayed
        self.decay_rate = float(decay_rate)
        self.decay_step = int(decay_step)
        self.name = gathered.name
        self.value = 0.0
        self.steps = 0
        self._histograms = hasattr(gathered, "positives")  # a streaming AUC

    def update(self, labels, predictions) -> None:
        """Feeds one training batch; decays every `decay_step` batches."""
        self.gathered.update_state(labels, predictions)
        self.steps += 1
        if self.steps % self.decay_step == 0:
            self._decay()

    def _decay(self) -> None:
        rate = self.decay_rate
        if self._histograms:
            for old, new in zip(self.decayed.variables, self.gathered.variables):
                if float(old.numpy().sum()) > 0:
                    old.assign(rate * old + (1.0 - rate) * new)
                else:
                    old.assign(new)
            self.value = float(self.decayed.result())
        else:
            value = float(self.gathered.result())
            self.value = value if self.value == 0.0 else rate * self.value + (1 - rate) * value
        self.gathered.reset_state()


class TrainMetrics(Callback):
    """Updates the tasks' train metrics after every step; logs them and writes them to
    TensorBoard every ``log_step_count_steps`` steps.

    Args:
        tasks: The runner's tasks (those with train metrics are followed).
        log_every: Steps between logs.
    """

    def __init__(self, tasks, log_every: int):
        self.tasks = [t for t in tasks if t.train_metric_builders]
        self.log_every = log_every
        self.metrics = {t.name: [b() for b in t.train_metric_builders] for t in self.tasks}

    def after_step(self, step: int, result) -> None:
        from easymtl import summary

        for task in self.tasks:
            y = task.label(result.labels)
            predictions = result.predictions[task.prediction_name]
            for metric in self.metrics[task.name]:
                metric.update(y, predictions)
        if step % self.log_every:
            return
        values = {m.name: m.value for ms in self.metrics.values() for m in ms}
        for name, value in values.items():
            summary.scalar(f"metric/{name}", value, step)
        log.info("step %d  %s", step, "  ".join(f"{k} {v:.4f}" for k, v in values.items()))


def train_metric_callbacks(tasks, train_config) -> list[Callback]:
    """The :class:`TrainMetrics` callback where a task has train metrics, else none."""
    if not any(t.train_metric_builders for t in tasks):
        return []
    return [TrainMetrics(tasks, train_config.log_step_count_steps)]
