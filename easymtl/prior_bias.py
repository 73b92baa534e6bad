"""Prior bias: a fresh run starts each binary tower at its label prior, not at p = 0.5.

A tower's output bias starts at 0, so every row's predicted probability starts near
0.5. For a rare label (census income: p = 0.062) the first gradients are then almost
the same on every row: lower this tower's logit. A tower lowers its logit by silencing
its ReLU units that have positive head weights; where most of them do (PLE seed 0 on
census-income: 7 of the income tower's 8), the tower's hidden layer is zero on nearly
every row within 20 steps, only the head bias still learns, at the dense optimizer's
rate (Adam: about lr per step), and the tower ends near chance (AUC 0.58). See
scripts/diagnose/ple_census.py and docs/reproductions.md.

Starting the bias at the prior's logit ``log(p / (1 - p))`` (Lin et al., Focal Loss,
ICCV 2017, "prior probability" initialization) removes that common push: from the first
step the gradients are about which rows are positive. :class:`PriorBias` (``train_config.
prior_bias: true``; off by default) sets it before the first step of a fresh run, with ``p``
the weighted share of positives in the first :data:`ROWS` training rows.

Example:
    ```python
    runner = Runner(config)  # prior_bias_callbacks(config.train_config) are in runner.callbacks
    runner.train()  # logs: "tower 'income': output bias set to -2.72, the logit of ..."
    ```
"""

from __future__ import annotations

import logging
import math

import numpy as np
import tensorflow as tf

from easymtl.callbacks import Callback
from easymtl.losses import BINARY
from easymtl.tasks import Task

log = logging.getLogger("easymtl")

# Training rows the priors are counted on: a prior of 1 % is then known to about ±8 %
# of itself, a logit within about ±0.08.
ROWS = 16384


def prior_bias_callbacks(train_config) -> list[Callback]:
    """The runner's prior bias callback, unless ``train_config.prior_bias`` is false."""
    return [PriorBias()] if train_config.prior_bias else []


def prior_logit(positives: float, negatives: float) -> float:
    """The logit of the share of positives, smoothed by half a row of each class
    (Jeffreys), so that a tower that saw one class only gets a finite bias."""
    p = (positives + 0.5) / (positives + negatives + 1.0)
    return math.log(p / (1.0 - p))


def label_counts(tasks: list[Task], batches) -> dict[str, tuple[float, float]]:
    """Each task's weighted positives and negatives, ``(sum w_i y_i, sum w_i (1 - y_i))``,
    over the rows of `batches` whose label is valid (``w_i``: the row's loss weight,
    sample weight times space weight, as the task's loss weighs it)."""
    counts = {t.name: [0.0, 0.0] for t in tasks}
    for labels in batches:
        for task in tasks:
            y = task.label(labels)
            w = task.loss_weights(labels)
            w = tf.ones_like(y) if w is None else w
            w = tf.where(task.valid_labels(labels), w, 0.0)
            counts[task.name][0] += float(tf.reduce_sum(w * y))
            counts[task.name][1] += float(tf.reduce_sum(w * (1.0 - y)))
    return {k: (pos, neg) for k, (pos, neg) in counts.items()}


def biased_towers(model, tasks: list[Task]) -> list[Task]:
    """The binary tasks whose logits are their tower's head output, so that the head's
    bias is the logit's offset: none in a model with derived outputs (ESMM's CTCVR)."""
    from easymtl.models.model import MultiTaskModel

    if type(model).task_outputs is not MultiTaskModel.task_outputs:
        return []
    towers = getattr(model, "towers", {})
    return [
        t
        for t in tasks
        if t.task_type == BINARY
        and t.name in towers
        and getattr(towers[t.name].head, "use_bias", False)
    ]


class PriorBias(Callback):
    """Sets each binary tower's head bias to the logit of its label prior before the
    first step of a fresh run: no checkpoint restored and no warm start (whose biases
    are trained ones). Every worker of a multi-worker run counts the same rows (the
    first :data:`ROWS` of all training files, shuffled by the run's seed), so all set
    the same biases.

    Attributes:
        priors: ``{tower: (prior, bias)}`` of the towers it set.
    """

    def __init__(self, rows: int = ROWS):
        if rows < 1:
            raise ValueError(f"`rows` must be positive. Received: {rows}")
        self.rows = rows
        self.priors: dict[str, tuple[float, float]] = {}

    def before_train(self, step: int) -> None:
        runner = self.runner
        if step != 0 or runner.warm_start is not None:
            return
        tasks = biased_towers(runner.model, runner.tasks)
        if not tasks:
            return
        counts = label_counts(tasks, self._label_batches(tasks))
        for task in tasks:
            pos, neg = counts[task.name]
            if pos + neg <= 0:
                continue
            bias = prior_logit(pos, neg)
            head = runner.model.towers[task.name].head
            head.bias.assign(np.full(head.bias.shape, bias, np.float32))
            self.priors[task.name] = (pos / (pos + neg), bias)
            log.info(
                "tower %r: output bias set to %.3f, the logit of its label prior %.4f (from "
                "the first %d training rows; train_config.prior_bias turns this off)",
                task.name,
                bias,
                pos / (pos + neg),
                self.rows,
            )

    def _label_batches(self, tasks: list[Task]):
        """Label batches of the first `rows` training rows of all workers' files."""
        from easymtl.data import BadRows, build_dataset, expand_paths

        config = self.runner.config
        files = expand_paths(config.train_input_path, "train_input_path")
        columns = list(dict.fromkeys(c for t in tasks for c in t.columns))
        data = config.data_config
        # The training batches' size and order (shuffled by the run's seed, unsharded).
        dataset = build_dataset(
            data, files, columns, data.batch_size, training=True, seed=self.runner.seed
        )
        rows = 0
        # A bad row among them stops (or is skipped) as in training, on one line.
        for labels in BadRows(data, files, columns, None, "train_input_path", None)(dataset):
            yield labels
            rows += int(tf.shape(labels[columns[0]])[0])
            if rows >= self.rows:
                return
