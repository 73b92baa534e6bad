"""The train state: what a training run changes and its checkpoint holds.

The trainable variables split by optimizer (embedding tables, or their shards, for the
row-wise sparse optimizers; everything else for the dense one), the optimizers and their
slots, the loop's position (global step, epoch, step in the epoch), its counters, and
the ``tf.train.Checkpoint`` over all of them. The loop, the step and the evaluator read
and change it; nothing here trains, logs or reads data.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from easymtl.checkpoints import model_variables
from easymtl.errors import ConfigError
from easymtl.optimizers import build_dense_optimizer, build_sparse_optimizer, table_parts
from easymtl.trainer.accumulation import GradientAccumulator
from easymtl.trainer.loss_scale import LossScale
from easymtl.weighting import shared_variables


class CheckpointMismatch(Exception):
    """A checkpoint of another model than the state's; its message says what differs."""


@dataclass
class TrainableVariables:
    """The model's trainable variables, by the optimizer that updates them.

    Attributes:
        tables: The embedding tables: the sparse optimizer's, then the wide_optimizer's.
        num_wide_tables: How many of `tables` (the last) the wide_optimizer updates.
        dense: Every other trainable variable, the loss weighting's included.
    """

    tables: list
    num_wide_tables: int
    dense: list

    @classmethod
    def of(cls, model, weighting, train_config) -> TrainableVariables:
        """The variables of a built `model` and its loss `weighting`."""
        tables = model.features.tables
        wide = set()
        if train_config.HasField("wide_optimizer"):
            wide = {t for t, _ in model.features.wide_embeddings.values()}
        # A table of features with trainable: false is left out: it stays as it is.
        trained = [t for t in tables if tables[t].trainable]
        for t in trained:  # the gradient_clipping of the optimizer that updates it
            sparse = train_config.wide_optimizer if t in wide else train_config.sparse_optimizer
            tables[t].max_gradient = max_gradient(sparse)
        order = sorted(trained, key=lambda t: t in wide)  # stable: the deep ones first
        embeddings = [tables[t].embeddings for t in order]
        ids = {id(v) for v in embeddings}
        dense = [v for v in model.trainable_variables if id(v) not in ids]
        # The weighting's own trainable variables (uncertainty's s_k) learn with the model.
        num_wide = sum(t in wide for t in trained)
        return cls(embeddings, num_wide, dense + weighting.trainable_variables)

    @property
    def embedding(self) -> list:
        """What the gradients of the tables are taken of: each table, or its shards."""
        return [p for v in self.tables for p in table_parts(v)]


def max_gradient(sparse_optimizer) -> float | None:
    """The limit of a SparseOptimizer message's gradient_clipping (None: no clipping)."""
    kind = sparse_optimizer.WhichOneof("optimizer")
    options = getattr(sparse_optimizer, kind) if kind else None
    if options is None or not options.gradient_clipping:
        return None
    return float(options.max_gradient)


class TrainState:
    """Owns the variables, the optimizers, the loop's counters and the checkpoint.

    Args:
        model: The built multi-task model.
        variables: Its :class:`TrainableVariables`.
        weighting: The loss weighting (its state is checkpointed where it has one).
        train_config: The TrainConfig message (the optimizers).

    Attributes:
        embedding_tables, num_wide_tables, embedding_vars, dense_vars: As in
            :class:`TrainableVariables` (``embedding_vars`` its ``embedding``).
        dense_optimizer, sparse_optimizer, wide_optimizer: The optimizers (the last None
            without train_config.wide_optimizer or WIDE tables).
        global_step, epoch, step_in_epoch: The loop's position.
        skipped_batches: Batches skipped for a NaN/Inf loss (nan_loss_policy SKIP_BATCH).
        bad_rows_skipped: Training rows skipped as bad (bad_row_policy SKIP).
        loss_weights: The task loss weights of the last train step, for the logs.
        checkpoint: The ``tf.train.Checkpoint`` of all of the above but the last.
        accumulator: The :class:`GradientAccumulator` of
            train_config.gradient_accumulation_steps > 1, else None (not checkpointed).
        loss_scale: The :class:`LossScale` of a model that computes in float16
            (mixed_precision "FP16"), else None (not checkpointed).
    """

    def __init__(self, model, variables: TrainableVariables, weighting, train_config):
        self.embedding_tables = variables.tables
        self.num_wide_tables = variables.num_wide_tables
        self.embedding_vars = variables.embedding
        self.dense_vars = variables.dense
        self.dense_optimizer = build_dense_optimizer(train_config.dense_optimizer)
        self.dense_optimizer.build(self.dense_vars)
        self.sparse_optimizer = build_sparse_optimizer(train_config.sparse_optimizer)
        deep, wide = self.table_split()
        self.sparse_optimizer.build(deep)
        self.wide_optimizer = None
        if wide:
            self.wide_optimizer = build_sparse_optimizer(train_config.wide_optimizer)
            self.wide_optimizer.build(wide)
        self.global_step = _counter("global_step")
        self.epoch = _counter("epoch")
        self.step_in_epoch = _counter("step_in_epoch")
        self.skipped_batches = _counter("skipped")
        self.bad_rows_skipped = _counter("bad_rows")
        # Stateless weightings add nothing, so their checkpoints are as without one.
        weighting_state = weighting.checkpoint_state()
        self.checkpoint = tf.train.Checkpoint(
            model=model_variables(model),
            dense_optimizer=self.dense_optimizer,
            sparse_optimizer=self.sparse_optimizer,
            global_step=self.global_step,
            epoch=self.epoch,
            step_in_epoch=self.step_in_epoch,
            skipped_batches=self.skipped_batches,
            bad_rows_skipped=self.bad_rows_skipped,
            **({"loss_weighting": weighting_state} if weighting_state else {}),
            **({"wide_optimizer": self.wide_optimizer} if self.wide_optimizer else {}),
        )
        self.loss_weights = tf.Variable(
            weighting.weights(self.global_step, self.epoch), trainable=False
        )
        steps = train_config.gradient_accumulation_steps
        self.accumulator = (
            GradientAccumulator(steps, self.embedding_vars, self.dense_vars) if steps > 1 else None
        )
        self.loss_scale = (
            LossScale.from_config(train_config.grad_scaler) if _float16(model) else None
        )

    def table_split(self) -> tuple[list, list]:
        """The tables of the sparse optimizer, and those of the wide_optimizer."""
        k = len(self.embedding_tables) - self.num_wide_tables
        return self.embedding_tables[:k], self.embedding_tables[k:]

    def apply(self, gradients: list, clip=None) -> None:
        """Applies one gradient per variable of ``embedding_vars + dense_vars`` (in that
        order) with the optimizers, the dense ones first passed through `clip`; in a
        train step. With an accumulator, the gradients are added to its window and the
        window's mean is applied when it is full."""
        if self.accumulator is None:
            self._update(gradients, clip, self.global_step)
            return
        self.accumulator.add(gradients)

        def update():
            # Learning-rate schedules and lazy Adam count updates, as the dense one does.
            self._update(self.accumulator.mean(), clip, self.global_step // self.accumulator.steps)
            self.accumulator.reset()
            return tf.constant(True)

        tf.cond(self.accumulator.ready(), update, lambda: tf.constant(False))

    def _update(self, gradients: list, clip, step) -> None:
        n = len(self.embedding_vars)
        sparse, dense = gradients[:n], gradients[n:]
        if clip is not None:
            dense = clip(dense)
        deep, wide = self.table_split()
        k = sum(len(table_parts(v)) for v in deep)
        self.sparse_optimizer.apply(sparse[:k], deep, step)
        if self.wide_optimizer is not None:
            self.wide_optimizer.apply(sparse[k:], wide, step)
        self.dense_optimizer.apply(dense, self.dense_vars)

    def restore(self, path: str) -> int:
        """Restores the checkpoint at `path`; returns its global step.

        Raises:
            CheckpointMismatch: it is not a checkpoint of this model (the message says
                what differs, on one line).
        """
        try:
            self.checkpoint.restore(path).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as e:
            raise CheckpointMismatch(" ".join(str(e).split())[:300]) from None
        return int(self.global_step.numpy())


def find_shared_variables(model, tasks, inputs_fn, label_names, dense_vars, field: str) -> list:
    """The dense variables that more than one task's loss reaches, found by tracing the
    model once on ``inputs_fn()`` (one row; traced, not run, so that no variable is read
    where it lives, as a sharded table on parameter servers would be).

    Raises:
        ConfigError: there are none (the towers share only embeddings), so the loss
            weighting at `field` has nothing to balance.
    """
    found = []

    def probe():
        labels = {name: tf.zeros([1]) for name in label_names}
        found.extend(shared_variables(model, tasks, inputs_fn(), labels, dense_vars))
        return tf.constant(0)

    tf.function(probe, autograph=False).get_concrete_function()
    if not found:
        raise ConfigError(
            field,
            "no dense parameter is shared by two tasks (the towers share only the "
            "embeddings); use a model with a shared part, e.g. mmoe or shared_bottom",
        )
    return found


def _counter(name: str) -> tf.Variable:
    return tf.Variable(0, dtype=tf.int64, trainable=False, name=name)


def _float16(model) -> bool:
    """Whether the model computes in float16 (mixed_precision "FP16"): its task towers,
    or a ranker (:class:`~easymtl.models.rank_model.RankModel`), which has none."""
    parts = model.towers.values() if hasattr(model, "towers") else [model.ranker]
    return any(p.dtype_policy.compute_dtype == "float16" for p in parts)
