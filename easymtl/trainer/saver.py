"""The chief's checkpoints of a training run, and what is written with them."""

from __future__ import annotations

import os

import tensorflow as tf
from google.protobuf import text_format

from easymtl import checkpoints
from easymtl.disk import write_text


class RunSaver:
    """Saves the train state's checkpoints into model_dir (on the chief).

    The run's first checkpoint writes the effective config (overrides applied) beside it
    as model_dir/pipeline.config, so that every run can be repeated, and keeps model_dir
    from being undone on a later failure; each save then calls the ``on_checkpoint``
    hooks.

    Args:
        state: The :class:`~easymtl.trainer.state.TrainState`.
        config: The PipelineConfig.
        undo: The run's :class:`~easymtl.run_guard.UndoOnFailure`.
        callbacks: The runner's callbacks.
        size_hint: Roughly the bytes of one checkpoint (said when a save fails).
    """

    def __init__(self, state, config, undo, callbacks: list, size_hint: int | None = None):
        self.config = config
        self.undo = undo
        self.callbacks = callbacks
        self.manager = tf.train.CheckpointManager(
            state.checkpoint,
            config.model_dir,
            max_to_keep=config.train_config.keep_checkpoint_max or None,
            checkpoint_name=checkpoints.PREFIX,
        )
        self.saver = checkpoints.Saver(self.manager, size_hint=size_hint)

    @property
    def latest(self) -> str | None:
        """The latest checkpoint saved, or None."""
        return self.manager.latest_checkpoint

    def save(self, step: int) -> None:
        """Saves the checkpoint of `step` (see the class)."""
        path = self.saver.save(step)
        if not self.undo.kept:
            write_text(
                os.path.join(self.config.model_dir, "pipeline.config"),
                text_format.MessageToString(self.config),
                "the run's config",
            )
            self.undo.keep()
        for callback in self.callbacks:
            callback.on_checkpoint(step, path)
