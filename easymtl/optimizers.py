"""Optimizers from train_config: Keras optimizers for dense parameters, row-wise ones for
embedding tables, and learning-rate schedules."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="easymtl")
class WarmupExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then exponential decay floored at `min_learning_rate`.

    lr(t) = warmup_lr + (lr - warmup_lr) * t / warmup_size            for t < warmup_size
    lr(t) = max(lr * decay_factor ^ ((t - warmup_size) / decay_size), min_learning_rate)
    (the exponent floored when `staircase`).
    """

    def __init__(
        self,
        learning_rate: float,
        decay_size: int,
        decay_factor: float = 0.95,
        staircase: bool = True,
        warmup_learning_rate: float = 0.0,
        warmup_size: int = 0,
        min_learning_rate: float = 0.0,
    ):
        if decay_size <= 0:
            raise ValueError(f"`decay_size` must be positive. Received: {decay_size}")
        self.learning_rate = learning_rate
        self.decay_size = decay_size
        self.decay_factor = decay_factor
        self.staircase = staircase
        self.warmup_learning_rate = warmup_learning_rate
        self.warmup_size = warmup_size
        self.min_learning_rate = min_learning_rate

    def __call__(self, step):
        t = tf.cast(step, tf.float32)
        p = tf.maximum(t - self.warmup_size, 0.0) / self.decay_size
        if self.staircase:
            p = tf.floor(p)
        decayed = tf.maximum(self.learning_rate * self.decay_factor**p, self.min_learning_rate)
        if not self.warmup_size:
            return decayed
        warm = self.warmup_learning_rate + (self.learning_rate - self.warmup_learning_rate) * (
            t / self.warmup_size
        )
        return tf.where(t < self.warmup_size, warm, decayed)

    def get_config(self):
        return dict(vars(self))


def learning_rate(optimizer_config, lr: float):
    """The learning rate (a float or schedule) of a Sparse/DenseOptimizer message."""
    if optimizer_config.WhichOneof("learning_rate") != "exponential_decay_learning_rate":
        return lr
    c = optimizer_config.exponential_decay_learning_rate
    return WarmupExponentialDecay(
        lr,
        decay_size=c.decay_size,
        decay_factor=c.decay_factor,
        staircase=c.staircase,
        warmup_learning_rate=c.warmup_learning_rate,
        warmup_size=c.warmup_size,
        min_learning_rate=c.min_learning_rate,
    )


def build_dense_optimizer(config) -> keras.optimizers.Optimizer:
    """A Keras optimizer from a DenseOptimizer message (default: Adam, lr 0.002); Adam,
    AdamW and SGD update each variable in one fused kernel (:class:`FusedUpdates`)."""
    kind = config.WhichOneof("optimizer") or "adam_optimizer"
    c = getattr(config, kind)
    lr = learning_rate(config, c.lr)
    decay = getattr(c, "weight_decay", 0.0) or None
    if kind == "sgd_optimizer":
        return SGD(lr, momentum=c.momentum, weight_decay=decay)
    if kind == "adagrad_optimizer":
        return keras.optimizers.Adagrad(
            lr,
            initial_accumulator_value=c.initial_accumulator_value,
            epsilon=c.eps,
            weight_decay=decay,
        )
    if kind == "adamw_optimizer":
        return AdamW(lr, weight_decay=c.weight_decay, beta_1=c.beta1, beta_2=c.beta2, epsilon=c.eps)
    return Adam(lr, beta_1=c.beta1, beta_2=c.beta2, epsilon=c.eps, weight_decay=decay)


class FusedUpdates:
    """Mixin for a Keras optimizer: each dense variable's update is one TensorFlow kernel
    (``ResourceApplyAdam``, ``ResourceApplyKerasMomentum``, ...) computing Keras's own
    formula, instead of the dozen ops and variable reads of Keras's ``update_step``; the
    step's scalars (learning rate, bias corrections) are made once per :meth:`apply`, not
    once per variable. A model of a few hundred variables traces its train step several
    seconds faster, and Grappler has that much less graph to optimize before the first
    step. Where no kernel computes the same thing (AMSGrad, a sparse gradient, a variable
    without a resource handle), Keras's update runs.

    A subclass defines ``_step_scalars(dtype, learning_rate)`` and
    ``_fused_update(gradient, variable, index, scalars)`` (index: the variable's slots).
    """

    _scalars = None  # during apply(): the step's scalars

    def apply(self, grads, trainable_variables=None):
        self._scalars = _Scalars()
        try:
            return super().apply(grads, trainable_variables)
        finally:
            self._scalars = None  # holds tensors of the graph apply ran in

    def update_step(self, gradient, variable, learning_rate):
        if isinstance(gradient, tf.IndexedSlices) or not self._fusable(variable):
            return super().update_step(gradient, variable, learning_rate)
        scalars = self._scalars.get(
            variable.dtype, lambda: self._step_scalars(variable.dtype, learning_rate)
        )
        gradient = tf.cast(gradient, variable.dtype)
        return self._fused_update(gradient, variable, self._get_variable_index(variable), scalars)

    def _fusable(self, variable) -> bool:
        return hasattr(variable, "handle") and self._scalars is not None


class _Scalars:
    """The scalars of one :meth:`FusedUpdates.apply`, by variable dtype: made in the graph
    (or eagerly) where that apply runs, and only used there."""

    def __init__(self):
        self._by_dtype = {}

    def get(self, dtype, make):
        if dtype not in self._by_dtype:
            self._by_dtype[dtype] = make()
        return self._by_dtype[dtype]


class Adam(FusedUpdates, keras.optimizers.Adam):
    """Keras's Adam, each update one ``ResourceApplyAdam``: m and v as Keras moves them,
    and ``var -= lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)``
    with t the update's 1-based count, as in Keras."""

    def _fusable(self, variable) -> bool:
        return not self.amsgrad and super()._fusable(variable)

    def _step_scalars(self, dtype, learning_rate):
        t = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.constant(self.beta_1, dtype), tf.constant(self.beta_2, dtype)
        return {
            "beta1_power": tf.pow(beta_1, t),
            "beta2_power": tf.pow(beta_2, t),
            "lr": tf.cast(learning_rate, dtype),
            "beta1": beta_1,
            "beta2": beta_2,
            "epsilon": tf.constant(self.epsilon, dtype),
        }

    def _fused_update(self, gradient, variable, index, scalars):
        return tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            grad=gradient,
            **scalars,
        )


class AdamW(Adam, keras.optimizers.AdamW):
    """Keras's AdamW (its decoupled weight decay applied by Keras before the update),
    each update one ``ResourceApplyAdam``."""


class SGD(FusedUpdates, keras.optimizers.SGD):
    """Keras's SGD, each update one kernel: ``ResourceApplyKerasMomentum`` (Keras's
    momentum and Nesterov formulas) or ``ResourceApplyGradientDescent``."""

    def _step_scalars(self, dtype, learning_rate):
        return {"lr": tf.cast(learning_rate, dtype), "momentum": tf.constant(self.momentum, dtype)}

    def _fused_update(self, gradient, variable, index, scalars):
        if self.momentum == 0:
            return tf.raw_ops.ResourceApplyGradientDescent(
                var=variable.handle, alpha=scalars["lr"], delta=gradient
            )
        return tf.raw_ops.ResourceApplyKerasMomentum(
            var=variable.handle,
            accum=self.momentums[index].handle,
            lr=scalars["lr"],
            grad=gradient,
            momentum=scalars["momentum"],
            use_nesterov=self.nesterov,
        )


def build_sparse_optimizer(config) -> RowWiseOptimizer:
    """A row-wise optimizer from a SparseOptimizer message (default: Adagrad, lr 0.002)."""
    kind = config.WhichOneof("optimizer") or "adagrad_optimizer"
    c = getattr(config, kind)
    lr = learning_rate(config, c.lr)
    if kind == "sgd_optimizer":
        return RowWiseOptimizer("sgd", lr)
    if kind == "adagrad_optimizer":
        return RowWiseOptimizer(
            "adagrad", lr, initial_accumulator_value=c.initial_accumulator_value
        )
    if kind == "rowwise_adagrad_optimizer":
        return RowWiseOptimizer("rowwise_adagrad", lr)
    return RowWiseOptimizer("adam", lr, beta1=c.beta1, beta2=c.beta2)


class RowWiseOptimizer(tf.Module):
    """Updates embedding tables only at the rows a batch looked up.

    Gradients arrive as ``tf.IndexedSlices``; duplicate rows are summed first. "adam" is
    a lazy Adam: the moments of rows not in the batch are left as they are.
    "rowwise_adagrad" keeps one accumulator per row, the sum of the mean squared gradient
    of the row's values (fbgemm's ROWWISE_ADAGRAD, TorchEasyRec's
    rowwise_adagrad_optimizer).

    Args:
        kind: "sgd", "adagrad", "rowwise_adagrad" or "adam".
        learning_rate: A float or a schedule of the global step.
        initial_accumulator_value: Adagrad's starting accumulator.
        beta1, beta2, epsilon: Adam's / Adagrad's constants.
    """

    def __init__(
        self,
        kind: str,
        learning_rate,
        initial_accumulator_value: float = 0.0,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ):
        super().__init__(name=f"rowwise_{kind}")
        if kind not in _SLOTS:
            raise ValueError(
                f"`kind` must be sgd, adagrad, rowwise_adagrad or adam. Received: {kind}"
            )
        self.kind = kind
        self.learning_rate = learning_rate
        self.initial_accumulator_value = initial_accumulator_value
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.slots: list[list[tf.Variable]] = []

    def build(self, tables) -> None:
        """Creates the slot variables of `tables` (before a checkpoint is restored).

        A table is a Keras or TensorFlow variable whose value may be sharded (a
        ``ShardedVariable`` over parameter servers); each shard's slots are made beside
        it (on its device), and a sharded table's slot is itself sharded the same way, so
        that checkpoints keep one whole slot per table whatever the number of shards.
        """
        n = _SLOTS[self.kind]
        init = self.initial_accumulator_value if self.kind == "adagrad" else 0.0
        strategy = tf.distribute.get_strategy()
        self.slots = []
        for table in tables:
            parts = table_parts(table)
            per_part = []
            for part in parts:
                with strategy.extended.colocate_vars_with(_variable(part)):
                    per_part.append(
                        [
                            tf.Variable(
                                lambda p=part: tf.fill(
                                    self._slot_shape(p.shape), tf.constant(init, p.dtype)
                                ),
                                trainable=False,
                            )
                            for _ in range(n)
                        ]
                    )
            self.slots.append([_whole([s[k] for s in per_part]) for k in range(n)])

    def _slot_shape(self, shape) -> list[int]:
        """A slot of a table (part) of `shape`: alike, or one value per row."""
        return [shape[0], 1] if self.kind == "rowwise_adagrad" else list(shape)

    def lr(self, step):
        if callable(self.learning_rate):
            return tf.cast(self.learning_rate(step), tf.float32)
        return tf.constant(self.learning_rate, tf.float32)

    def apply(self, grads, tables, step) -> None:
        """Applies IndexedSlices `grads` to `tables` (those of :meth:`build`, in its
        order) at `step`: one gradient per part (:func:`table_parts`) of each table, in
        order; each shard's rows are updated where the shard is."""
        lr = self.lr(step)
        if self.kind == "adam":  # the step's bias correction, once for every table
            t = tf.cast(step, tf.float32) + 1.0
            lr_t = lr * tf.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        parts = [
            (var, [table_parts(slot)[i] for slot in slots])
            for table, slots in zip(tables, self.slots, strict=True)
            for i, var in enumerate(table_parts(table))
        ]
        for grad, (var, slots) in zip(grads, parts, strict=True):
            if grad is None:
                continue
            if not isinstance(grad, tf.IndexedSlices):
                grad = _dense_to_slices(grad)
            rows, summed = tf.unique(grad.indices)
            values = tf.math.unsorted_segment_sum(grad.values, summed, tf.shape(rows)[0])
            handle = var.handle
            if self.kind == "sgd":
                tf.raw_ops.ResourceScatterSub(resource=handle, indices=rows, updates=lr * values)
            elif self.kind == "adagrad":
                tf.raw_ops.ResourceSparseApplyAdagradV2(
                    var=handle,
                    accum=slots[0].handle,
                    lr=lr,
                    epsilon=self.epsilon,
                    grad=values,
                    indices=rows,
                )
            elif self.kind == "rowwise_adagrad":
                acc = slots[0]
                acc_rows = tf.gather(acc, rows) + tf.reduce_mean(
                    values * values, axis=1, keepdims=True
                )
                acc.scatter_update(tf.IndexedSlices(acc_rows, rows))
                update = lr * values / (tf.sqrt(acc_rows) + self.epsilon)
                tf.raw_ops.ResourceScatterSub(resource=handle, indices=rows, updates=update)
            else:
                m, v = slots
                m_rows = self.beta1 * tf.gather(m, rows) + (1 - self.beta1) * values
                v_rows = self.beta2 * tf.gather(v, rows) + (1 - self.beta2) * values * values
                m.scatter_update(tf.IndexedSlices(m_rows, rows))
                v.scatter_update(tf.IndexedSlices(v_rows, rows))
                update = lr_t * m_rows / (tf.sqrt(v_rows) + self.epsilon)
                tf.raw_ops.ResourceScatterSub(resource=handle, indices=rows, updates=update)


# Slot variables per table, by kind.
_SLOTS = {"sgd": 0, "adagrad": 1, "rowwise_adagrad": 1, "adam": 2}


def table_parts(table) -> list[tf.Variable]:
    """The variables that hold a table: the table itself, or the shards of a sharded one
    (a ``ShardedVariable``, placed on parameter servers), in row order."""
    if isinstance(_variable(table), tf.__internal__.distribute.ShardedVariable):
        return list(_variable(table).variables)
    return [table]


def _variable(variable):
    """The TensorFlow variable of a Keras or TensorFlow variable."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def _whole(parts: list[tf.Variable]):
    """One variable of `parts` (a table's shards, in row order), checkpointed whole."""
    if len(parts) == 1:
        return parts[0]
    return tf.__internal__.distribute.ShardedVariable(parts)


def _dense_to_slices(grad) -> tf.IndexedSlices:
    rows = tf.range(tf.shape(grad, out_type=tf.int64)[0])
    return tf.IndexedSlices(grad, rows)
