"""The train loop's log: mean losses between log steps, the loss history, the log line
and the train/ TensorBoard scalars."""

from __future__ import annotations

import logging
import os

import keras
import tensorflow as tf

from easymtl import summary
from easymtl.tasks import loss_scale_warnings

log = logging.getLogger("easymtl")


class TrainLog:
    """Accumulates the train losses of the steps between two log steps and logs them.

    Args:
        tasks: The model's tasks.
        config: The PipelineConfig.
        loss_weights: The variable holding the last step's task loss weights.
        callbacks: The runner's callbacks: the first whose ``progress(step)`` returns
            text says where the log line's step is (e.g. ``20/157 (13%, eta 4m16s)``).

    Attributes:
        losses: Mean of each tower's loss (and "total") since the last log step.
        history: (step, {"total": loss, "<tower>": loss}) at every log step.
        weight_history: (step, {"<tower>": loss weight of that step}) at every log step.
    """

    def __init__(self, tasks, config, loss_weights: tf.Variable, callbacks: list = ()):
        self.tasks = tasks
        self.config = config
        self.loss_weights = loss_weights
        self.callbacks = callbacks
        self.losses = {t.name: keras.metrics.Mean() for t in tasks}
        self.losses["total"] = keras.metrics.Mean()
        self.history: list[tuple[int, dict[str, float]]] = []
        self.weight_history: list[tuple[int, dict[str, float]]] = []

    def update(self, total, losses: dict) -> None:
        """Adds one step's total and task losses (in the train step)."""
        for name, value in losses.items():
            self.losses[name].update_state(value)
        self.losses["total"].update_state(total)

    def writer(self, writes: bool):
        """The TensorBoard writer of model_dir/train, or a no-op one where TensorBoard is
        off or this process writes nothing (`writes` false)."""
        if writes and self.config.train_config.use_tensorboard:
            return summary.file_writer(os.path.join(self.config.model_dir, "train"))
        return tf.summary.create_noop_writer()

    def warn_loss_scales(self) -> None:
        """Warns of towers whose first losses differ by orders of magnitude."""
        first = {k: float(m.result()) for k, m in self.losses.items()}
        for warning in loss_scale_warnings(self.tasks, first):
            log.warning("%s", warning)

    def log(self, step: int, num_steps: int | None, speed: float) -> None:
        """Logs and records the mean losses since the last log step, then resets them."""
        values = {k: float(m.result()) for k, m in self.losses.items()}
        for m in self.losses.values():
            m.reset_state()
        weights = dict(zip((t.name for t in self.tasks), self.loss_weights.numpy().tolist()))
        self.history.append((step, values))
        self.weight_history.append((step, weights))
        _scalars(step, values, weights, speed)
        towers = "  ".join(f"loss_{k} {v:.4f}" for k, v in values.items() if k != "total")
        if self.config.model_config.HasField("loss_weighting"):
            towers += "".join(f"  weight_{k} {w:.4f}" for k, w in weights.items())
        where = next((p for c in self.callbacks if (p := c.progress(step)) is not None), None)
        log.info(
            "step %s  loss %.4f  %s  %.0f examples/sec",
            where or (f"{step}/{num_steps}" if num_steps else str(step)),
            values["total"],
            towers,
            speed,
        )


def _scalars(step: int, losses: dict, weights: dict, speed: float) -> None:
    """The train/ TensorBoard scalars of a log step."""
    for name, value in losses.items():
        summary.scalar("loss" if name == "total" else f"loss/{name}", value, step)
    summary.scalar("examples_per_sec", speed, step)
    for name, weight in weights.items():
        summary.scalar(f"loss_weight/{name}", weight, step)
