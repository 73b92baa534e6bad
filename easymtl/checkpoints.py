"""Checkpoints that fail cleanly and are read before they are used.

A save that cannot be written (no space, permission, I/O error) removes what it left
(TensorFlow's ``model.ckpt-N_temp/``, a half-merged ``model.ckpt-N.*``, a temporary
``checkpoint`` state file) and stops with one line; the last good checkpoint stays the
latest, so the same command resumes from it once the cause is fixed.

Before a restore every tensor of the chosen checkpoint is read once (TensorFlow checks
each one's CRC), so a truncated file, a missing data shard or an index that does not
match its data is found before training, evaluation or export uses it: the newest
checkpoint that reads in full is taken instead, with a warning naming the bad ones.
They are never deleted; a training run moves them into ``model_dir/unreadable/`` so
that its own saves neither overwrite nor rotate them away.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil

import tensorflow as tf
from google.protobuf import text_format

from easymtl.disk import WRITE_ERRORS, free_bytes, reason, remove, size_text, write_text
from easymtl.errors import EasymtlError

log = logging.getLogger("easymtl")

PREFIX = "model.ckpt"
UNREADABLE = "unreadable"


class Saver:
    """Saves checkpoints of a CheckpointManager; a failed save is one line.

    Args:
        manager: The model_dir's ``tf.train.CheckpointManager``.
        size_hint: Roughly the bytes of one checkpoint (the model's variables and
            optimizer slots), said when no checkpoint is on disk to measure.
    """

    def __init__(self, manager: tf.train.CheckpointManager, size_hint: int | None = None):
        self.manager = manager
        self.size_hint = size_hint

    def save(self, step: int) -> str:
        """Saves the checkpoint of `step`; returns its path.

        Raises:
            EasymtlError: it cannot be written; nothing of it is left on disk.
        """
        before = list(self.manager.checkpoints)
        try:
            return self.manager.save(checkpoint_number=step)
        except WRITE_ERRORS as e:
            directory = self.manager.directory
            clean_failed_save(directory, step, before)
            last = before[-1] if before else None
            size = checkpoint_bytes(last) if last else self.size_hint
            free = free_bytes(directory)
            raise EasymtlError(
                f"model_dir {directory!r}: checkpoint {PREFIX}-{step} cannot be written: "
                f"{reason(e)}; training stopped, the last good checkpoint is "
                f"{os.path.basename(last) if last else 'none (no checkpoint saved yet)'}; "
                f"a checkpoint needs about {size_text(size or 0)}, "
                f"{size_text(free) if free is not None else 'unknown'} is free there. Free "
                "space (or fix the permission) and run the same command to resume"
            ) from None


def clean_failed_save(directory: str, step: int, kept: list[str]) -> None:
    """Removes what a failed save of `step` left in `directory`: TensorFlow's temporary
    shard directory, the checkpoint's own files unless it is one of `kept`, and
    temporary state files."""
    prefix = os.path.join(directory, f"{PREFIX}-{step}")
    leftovers = glob.glob(glob.escape(prefix) + "_temp*")
    if prefix not in kept:
        leftovers += glob.glob(glob.escape(prefix) + ".index")
        leftovers += glob.glob(glob.escape(prefix) + ".data-*")
    leftovers += glob.glob(os.path.join(glob.escape(directory), "checkpoint.tmp*"))
    for path in leftovers:
        remove(path)


def checkpoint_bytes(prefix: str) -> int:
    """The bytes of a checkpoint's index and data files on disk."""
    files = glob.glob(glob.escape(prefix) + ".index") + glob.glob(glob.escape(prefix) + ".data-*")
    return sum(os.path.getsize(f) for f in files)


def step_of(prefix: str) -> int:
    match = re.search(r"-(\d+)$", prefix)
    return int(match.group(1)) if match else -1


def candidates(model_dir: str) -> list[str]:
    """The checkpoints of `model_dir`, newest (highest step) first: those the
    ``checkpoint`` state file lists, and any other ``model.ckpt-N.index`` there."""
    paths = []
    try:
        state = tf.train.get_checkpoint_state(model_dir)
    except (tf.errors.OpError, ValueError) as e:  # a damaged state file: glob instead
        log.warning("%s: cannot read its checkpoint state file (%s)", model_dir, reason(e))
        state = None
    if state is not None:
        # A checkpoint of model_dir is in model_dir: the state file's paths may be relative
        # to the working directory of the run that wrote them (a relative model_dir), or
        # absolute paths of a machine the model_dir was copied from.
        listed = [*state.all_model_checkpoint_paths, state.model_checkpoint_path]
        paths += [os.path.join(model_dir, os.path.basename(p)) for p in listed if p]
    pattern = os.path.join(glob.escape(model_dir), f"{PREFIX}-*.index")
    paths += [p[: -len(".index")] for p in glob.glob(pattern)]
    return sorted(dict.fromkeys(os.path.normpath(p) for p in paths), key=step_of, reverse=True)


def unreadable(prefix: str) -> str | None:
    """Why the checkpoint at `prefix` cannot be read in full, or None if it can."""
    if not os.path.exists(prefix + ".index"):
        return "its index file is missing"
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_dtype_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, OSError, ValueError, IndexError, RuntimeError) as e:
        message = getattr(e, "message", None) or str(e)
        return " ".join(message.split())[:200]
    return None


def latest_readable(model_dir: str, set_aside: bool = False) -> str | None:
    """The newest checkpoint of `model_dir` that reads in full, or None if there is none.

    Newer unreadable checkpoints are named in a warning and left in place, or, with
    `set_aside` (a training run, which saves into model_dir), moved into
    ``model_dir/unreadable/`` and dropped from the state file.

    Raises:
        EasymtlError: model_dir has checkpoints and none of them reads.
    """
    if not os.path.isdir(model_dir):
        return None
    bad = []
    for prefix in candidates(model_dir):
        why = unreadable(prefix)
        if why is None:
            break
        bad.append((prefix, why))
    else:
        prefix = None
    named = "; ".join(f"{os.path.basename(p)} ({why})" for p, why in bad)
    if prefix is None:
        if bad:
            raise EasymtlError(
                f"model_dir {model_dir!r}: no readable checkpoint: {named}. Copy them again "
                "from where they came from, or use a new model_dir to train from scratch"
            )
        return None
    if bad:
        where = " left in place"
        if set_aside:
            _set_aside(model_dir, [p for p, _ in bad], prefix)
            where = f" moved to {os.path.join(model_dir, UNREADABLE)}"
        log.warning(
            "model_dir %r: unreadable checkpoint %s%s; using %s instead",
            model_dir,
            named,
            where,
            os.path.basename(prefix),
        )
    return prefix


def _set_aside(model_dir: str, bad: list[str], good: str) -> None:
    """Moves the files of the `bad` checkpoints into model_dir/unreadable/ and makes
    `good` the latest in the state file."""
    target = os.path.join(model_dir, UNREADABLE)
    os.makedirs(target, exist_ok=True)
    for prefix in bad:
        for path in glob.glob(glob.escape(prefix) + ".index") + glob.glob(
            glob.escape(prefix) + ".data-*"
        ):
            name = dest = os.path.join(target, os.path.basename(path))
            n = 1
            while os.path.lexists(dest):
                dest, n = f"{name}.{n}", n + 1
            shutil.move(path, dest)
    state = tf.train.get_checkpoint_state(model_dir)
    if state is None:
        return
    dropped = {os.path.basename(p) for p in bad}
    paths = list(state.all_model_checkpoint_paths)
    stamps = list(state.all_model_checkpoint_timestamps)
    keep = [i for i, p in enumerate(paths) if os.path.basename(p) not in dropped]
    state.model_checkpoint_path = os.path.relpath(good, model_dir)
    state.ClearField("all_model_checkpoint_paths")
    state.all_model_checkpoint_paths.extend(paths[i] for i in keep)
    if len(stamps) == len(paths):
        state.ClearField("all_model_checkpoint_timestamps")
        state.all_model_checkpoint_timestamps.extend(stamps[i] for i in keep)
    write_text(os.path.join(model_dir, "checkpoint"), text_format.MessageToString(state), "file")


def model_variables(model) -> dict[str, tf.Variable]:
    """The model's variables by Keras path, for tf.train.Checkpoint.

    Keras 3 models are not checkpointable objects themselves; keying by path (tower and
    layer names, not positions) keeps checkpoints valid when towers are reordered.
    """
    # A table sharded over parameter servers is saved as its ShardedVariable, which
    # writes each shard as a slice of the whole table: checkpoints are alike whatever
    # the number of shards (none included), and each ps writes its own shards.
    variables = {v.path: _saved(v) for v in model.variables}
    if len(variables) != len(model.variables):
        raise ValueError("Two model variables share a path; give their layers unique names.")
    return variables


def _saved(variable):
    """What a checkpoint holds of a Keras variable: itself, or its sharded value."""
    if isinstance(variable.value, tf.__internal__.distribute.ShardedVariable):
        return variable.value
    return variable


class SaveSchedule:
    """When the train loop saves: every ``save_checkpoints_steps`` steps, or, with
    ``save_checkpoints_epochs`` (TorchEasyRec's rule: it replaces the steps), at the end
    of every that many epochs.

    Args:
        train_config: The TrainConfig message.
        epoch: The epochs done when the loop starts.
    """

    def __init__(self, train_config, epoch: int = 0):
        self.steps = (
            0 if train_config.save_checkpoints_epochs else train_config.save_checkpoints_steps
        )
        self.epochs = train_config.save_checkpoints_epochs
        self.epoch = epoch

    def after_step(self, step: int, since: int | None = None) -> bool:
        """Whether to save after `step`: a save step lies after `since` (the last step
        saved; by default the step before) up to `step`, as after a round of several
        steps (parameter-server training)."""
        since = step - 1 if since is None else since
        return bool(self.steps) and step // self.steps > since // self.steps

    def epoch_ended(self, epoch: int) -> bool:
        """Whether to save now that `epoch` epochs are done (checked before each step; at
        an epoch's end the step counter has not moved since its last step)."""
        ended, self.epoch = epoch > self.epoch, epoch
        return bool(self.epochs) and ended and epoch % self.epochs == 0
