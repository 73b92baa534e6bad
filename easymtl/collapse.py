"""Collapse warnings: the runner warns, while it trains, when a tower stops learning.

A collapsed tower predicts about its label prior for every row: its train loss sits at
the loss of that constant prediction (for ``binary_cross_entropy``, the prior's entropy
``H(p) = -p log p - (1-p) log(1-p)``), and its eval AUC near 0.5, while the other towers
learn. :class:`CollapseWarning` (on by default: ``train_config.collapse_warning``) keeps,
for each binary tower, the label sums of the batches it trained on and its recent train
losses, and logs one warning per tower naming the figures and what to try.

Example:
    ```python
    runner = Runner(config)  # collapse_callbacks(config.train_config) are in runner.callbacks
    runner.train()  # may log: "tower 'cvr' is not learning: ..."
    ```
"""

from __future__ import annotations

import logging
from collections import deque

import numpy as np
import tensorflow as tf

from easymtl.callbacks import Callback
from easymtl.losses import BINARY
from easymtl.tasks import Task

log = logging.getLogger("easymtl")

# Logits at which a constant prediction's loss is evaluated: the best constant is found
# on this grid (spacing 0.005: its loss is within 1e-5 relative of the optimum).
_LOGITS = np.linspace(-16.0, 16.0, 6401, dtype=np.float32)


def collapse_callbacks(train_config) -> list[Callback]:
    """The runner's default collapse callback, unless ``collapse_warning.enabled`` is false."""
    warning = train_config.collapse_warning
    if not warning.enabled:
        return []
    return [CollapseWarning(warning.patience_steps, warning.min_loss_gain, warning.min_auc)]


class _Tower:
    """One binary tower's figures over a run: weighted label sums, its loss normalizer,
    rows seen, and its train losses of the last `patience` steps."""

    def __init__(self, task: Task, patience: int):
        self.task = task
        self.positives = 0.0  # sum of w_i y_i
        self.negatives = 0.0  # sum of w_i (1 - y_i)
        self.normalizer = 0.0  # sum of the batches' loss denominators
        self.rows = 0
        self.losses: deque[float] = deque(maxlen=patience)
        ones = tf.ones_like(_LOGITS)
        # The tower's per-row loss of each constant logit, for a label 1 and a label 0.
        self.loss_of_1 = tf.add_n([fn(ones, _LOGITS) for _, fn in task.losses]).numpy()
        self.loss_of_0 = tf.add_n([fn(0.0 * ones, _LOGITS) for _, fn in task.losses]).numpy()

    @property
    def prior(self) -> float:
        """The weighted share of positive labels seen."""
        return self.positives / (self.positives + self.negatives)

    def prior_loss(self) -> float:
        """The lowest mean loss a constant prediction reaches on the labels seen (the
        loss is linear in a 0/1 label, so the label sums give it exactly)."""
        a1, a0 = self.positives / self.normalizer, self.negatives / self.normalizer
        return float(np.min(a1 * self.loss_of_1 + a0 * self.loss_of_0))

    def recent_loss(self) -> float:
        return float(np.mean(self.losses))


def _label_sums(tasks: list[Task], labels: dict) -> tf.Tensor:
    """[num tasks, 4]: each task's sum of w_i y_i, of w_i (1 - y_i), its loss's
    denominator (:meth:`Task.loss_normalizer`), and its rows in its space."""
    rows = []
    for task in tasks:
        y = task.label(labels)
        w = task.loss_weights(labels)
        w = tf.ones_like(y) if w is None else w
        space = task.in_task_space(labels)
        in_space = tf.size(y) if space is None else tf.reduce_sum(tf.cast(space, tf.int32))
        in_space = tf.cast(in_space, tf.float32)
        n = task.loss_normalizer(labels)
        rows.append(tf.stack([tf.reduce_sum(w * y), tf.reduce_sum(w * (1.0 - y)), n, in_space]))
    return tf.stack(rows)


class CollapseWarning(Callback):
    """Warns, once per tower, when a binary tower has stopped learning.

    From step ``2 * patience_steps`` of a run on (the first steps bring every tower's loss
    down to about its prior's), a tower is reported when its mean train loss over the
    last ``patience_steps`` steps is not below ``(1 - min_loss_gain)`` of the lowest loss a
    constant prediction reaches on the labels the tower trained on in the run. After an
    evaluation of a checkpoint of at least ``patience_steps`` steps (a run shorter than
    ``2 * patience_steps``, such as one epoch of 157 steps, is judged there), a tower whose
    ``auc_<tower>`` is below ``min_auc`` is reported. Only the chief of a multi-worker run
    warns. Training goes on; :attr:`warned` holds ``(tower, "loss" or "auc")`` reported.

    Args:
        patience_steps: Steps in the window of train losses, and half the steps before
            the first check.
        min_loss_gain: How far (as a fraction) below the prior's loss a tower must be.
        min_auc: The eval AUC below which a tower is reported.
    """

    def __init__(self, patience_steps: int = 100, min_loss_gain: float = 0.01, min_auc=0.55):
        if patience_steps < 1:
            raise ValueError(f"`patience_steps` must be positive. Received: {patience_steps}")
        self.patience_steps = patience_steps
        self.min_loss_gain = min_loss_gain
        self.min_auc = min_auc
        self.warned: set[tuple[str, str]] = set()
        self._towers: dict[str, _Tower] = {}
        self._steps = 0
        self._first_step = 0
        self._sums = None

    def before_train(self, step: int) -> None:
        tasks = [t for t in self.runner.tasks if t.task_type == BINARY]
        self._towers = {t.name: _Tower(t, self.patience_steps) for t in tasks}
        self._steps, self._first_step = 0, step
        self._sums = tf.function(
            lambda labels: _label_sums(tasks, labels), reduce_retracing=True, autograph=False
        )

    def after_step(self, step: int, result) -> None:
        if not self._towers or not result.applied or not self.runner.cluster.is_chief:
            return
        sums = self._sums({k: result.labels[k] for k in self.runner.inputs.label_names}).numpy()
        for tower, (pos, neg, n, rows) in zip(self._towers.values(), sums):
            tower.positives += float(pos)
            tower.negatives += float(neg)
            tower.normalizer += float(n)
            tower.rows += int(rows)
            tower.losses.append(float(result.losses[tower.task.name]))
        self._steps += 1
        if self._steps >= 2 * self.patience_steps:
            self._check_losses(step)

    def ratios(self) -> dict[str, float]:
        """Each tower's recent train loss over its prior's loss (where both classes seen)."""
        return {
            name: t.recent_loss() / t.prior_loss()
            for name, t in self._towers.items()
            if t.positives > 0 and t.negatives > 0 and t.prior_loss() > 0
        }

    def _check_losses(self, step: int) -> None:
        ratios = self.ratios()
        for name, ratio in ratios.items():
            if (name, "loss") in self.warned or ratio < 1.0 - self.min_loss_gain:
                continue
            self.warned.add((name, "loss"))
            tower = self._towers[name]
            others = {k: v for k, v in ratios.items() if k != name}
            learning = [k for k, v in others.items() if v < 1.0 - self.min_loss_gain]
            log.warning(
                "tower %r is not learning: its mean train loss over steps %d-%d is %.4f, "
                "%.1f%% of %.4f, the loss of predicting its label prior (p = %.4f, from %d "
                "training rows) for every row%s. %s",
                name,
                step - len(tower.losses) + 1,
                step,
                tower.recent_loss(),
                100.0 * ratio,
                tower.prior_loss(),
                tower.prior,
                tower.rows,
                _others(
                    {k: f"{100.0 * v:.1f}%" for k, v in others.items()},
                    "train loss, as a share of their prior's",
                ),
                self._advice(bool(learning)),
            )

    def after_evaluate(self, step: int, results: dict) -> None:
        if step < self.patience_steps or not self.runner.cluster.is_chief:
            return
        aucs = {
            t.name: results[f"auc_{t.name}"]
            for t in self.runner.tasks
            if results.get(f"auc_{t.name}") is not None
        }
        for name, auc in aucs.items():
            if (name, "auc") in self.warned or auc >= self.min_auc:
                continue
            self.warned.add((name, "auc"))
            others = {k: v for k, v in aucs.items() if k != name}
            log.warning(
                "tower %r is not learning: its eval AUC at step %d is %.4f, below %.2f "
                "(0.5 is chance)%s. %s",
                name,
                step,
                auc,
                self.min_auc,
                _others({k: f"{v:.4f}" for k, v in others.items()}, "eval AUC"),
                self._advice(any(v >= self.min_auc for v in others.values())),
            )

    def _advice(self, others_learn: bool) -> str:
        """What to try, for the runner's model."""
        model = self.runner.config.model_config.WhichOneof("model")
        lr = "a higher or lower learning rate (train_config.dense_optimizer)"
        # A fresh run's towers start at p = 0.5 or at their priors: the other start helps
        # where the one taken fails (docs/reproductions.md, PLE's collapsed tower).
        prior = self.runner.config.train_config.prior_bias
        if others_learn:
            tries = [lr, "a larger loss weight for this tower (its task tower's `weight`)"]
            if not prior:
                tries.insert(
                    0, "train_config.prior_bias: true (the towers start at their label priors)"
                )
            if self.runner.evaluator.gate_stats:
                tries.append(f"another gate_temperature (model_config.{model})")
            if model != "mmoe":
                tries.append("another model, e.g. mmoe")
            start = f"Try {', '.join(tries[:-1])} or {tries[-1]}"
        else:
            start = (
                "No tower learns beyond its prior: check that the features carry signal and "
                f"that the labels are right, and try {lr}"
                + (
                    " or train_config.prior_bias: false (the towers start at p = 0.5)"
                    if prior
                    else ""
                )
            )
        return (
            f"{start}; see docs/troubleshooting.md (Collapsed tower). "
            "train_config.collapse_warning sets or turns off this check"
        )


def _others(shown: dict[str, str], what: str) -> str:
    """ "; the other towers' <what>: a 41.2%, b 60.3%", or "" without others."""
    if not shown:
        return ""
    return f"; the other towers' {what}: " + ", ".join(f"{k} {v}" for k, v in shown.items())
