"""The runner: builds a config's model and trains and evaluates it in its model_dir.

Estimator style: ``Runner(config).train()`` trains from the latest checkpoint in
model_dir to the configured end; ``evaluate()`` scores the latest checkpoint on the eval
data and writes model_dir/eval_result.json. The runner composes the trainer's parts
(:mod:`easymtl.trainer`): the train state (variables, optimizers, checkpoint), the one
loop that calls the callbacks around :meth:`Runner.run_step`, and the evaluator beside
it. The ``build_*`` methods, :meth:`Runner.run_step`, :meth:`Runner.apply_gradients`
and :meth:`Runner.schedule` are the override points; a distribution strategy's runner
(:class:`easymtl.ps.runner.PSRunner`) supplies variable placement and step scheduling
through them.
"""

from __future__ import annotations

import logging
import os
import time
import weakref

import keras
import tensorflow as tf

from easymtl import checkpoints, memory
from easymtl.callbacks import Callback
from easymtl.collapse import collapse_callbacks
from easymtl.distribute import cluster
from easymtl.errors import EasymtlError
from easymtl.feature_selection import feature_selection_callbacks
from easymtl.fusion import build_score_evaluation
from easymtl.lifecycle import runs
from easymtl.lifecycle.warm_start import warm_start
from easymtl.models import build_model, build_model_tasks
from easymtl.prior_bias import prior_bias_callbacks
from easymtl.protos import train_pb2
from easymtl.run_guard import ModelDirLock, UndoOnFailure
from easymtl.tasks import Task
from easymtl.train_metrics import train_metric_callbacks
from easymtl.train_step import Gradients, StepResult, TrainStep
from easymtl.trainer.evaluator import Evaluator
from easymtl.trainer.inputs import Inputs
from easymtl.trainer.loop import TrainLoop
from easymtl.trainer.saver import RunSaver
from easymtl.trainer.schedule import LocalSchedule
from easymtl.trainer.state import (
    CheckpointMismatch,
    TrainableVariables,
    TrainState,
    find_shared_variables,
)
from easymtl.trainer.train_log import TrainLog
from easymtl.weighting import build_loss_weighting

log = logging.getLogger("easymtl")


class Runner:
    """Trains and evaluates the model of a pipeline config in its model_dir.

    Args:
        config: A validated PipelineConfig.
        callbacks: :class:`Callback` objects, called in this order at their points.

    Attributes:
        model, tasks, weighting: The model, its tasks and its loss weighting.
        inputs: The input and label columns and their datasets (:class:`Inputs`).
        state: The variables, optimizers, counters and checkpoint (:class:`TrainState`).
        shared_vars: The dense variables that several task losses reach, where the
            weighting needs per-task gradients of them (PCGrad, GradNorm); else empty.
        train_step: The step's math (:class:`TrainStep`).
        train_log: The train losses and their history (:class:`TrainLog`).
        evaluator: The evaluation (:class:`Evaluator`).
        callbacks: The default callbacks, then those given.
        memory: The estimated bytes of the parameters and optimizer slots.
        run: The training run (:mod:`easymtl.lifecycle.runs`) of the last train().
        warm_start: What a warm start from train_config.fine_tune_checkpoint loaded.
    """

    def __init__(self, config, callbacks: list[Callback] | tuple = ()):
        self.cluster = cluster()
        self.config = config
        self.model_dir = config.model_dir
        self.seed = config.train_config.seed
        keras.utils.set_random_seed(self.seed)
        self.tasks: list[Task] = build_model_tasks(config.model_config, config.feature_configs)
        self.model = self.build_model()
        # Before any embedding table is allocated: refuse tables that cannot fit.
        self.check_memory(memory.estimate(config.train_config, self.model.features.tables))
        # What evaluation scores beside the tasks: the fused score, if it names labels.
        self.score_eval = build_score_evaluation(config.model_config)
        self.inputs = Inputs(
            config,
            self.model.used_inputs,
            self.tasks,
            [self.score_eval] if self.score_eval else [],
            self.model.features.row_checks(),
            self.seed,
        )
        self.build_variables()
        self.weighting = build_loss_weighting(config.model_config, self.tasks)
        variables = TrainableVariables.of(self.model, self.weighting, config.train_config)
        self.shared_vars = []
        if self.weighting.task_gradients:
            kind = config.model_config.loss_weighting.WhichOneof("strategy")
            self.shared_vars = find_shared_variables(
                self.model,
                self.tasks,
                self.inputs.dummy_inputs,
                self.inputs.label_names,
                variables.dense,
                f"model_config.loss_weighting.{kind}",
            )
        # The variables exist, the optimizer slots not yet: the whole size, checked again.
        tables = self.model.features.tables
        self.memory = memory.estimate(config.train_config, tables, variables.dense)
        self.check_memory(self.memory, allocated=self.memory.tables + self.memory.dense)
        self.state = TrainState(self.model, variables, self.weighting, config.train_config)
        self.train_step = self.build_train_step()
        self.callbacks = (
            prior_bias_callbacks(config.train_config)
            + collapse_callbacks(config.train_config)
            + train_metric_callbacks(self.tasks, config.train_config)
            + feature_selection_callbacks(config.model_config)
            + list(callbacks)
        )
        self.train_log = TrainLog(self.tasks, config, self.state.loss_weights, self.callbacks)
        self.evaluator = self.build_evaluator()
        for callback in self.callbacks:
            callback.runner = weakref.proxy(self)
        self._stop_reason: str | None = None
        self._train_function = None
        self.run: runs.Run | None = None
        self.warm_start = None

    # ------------------------------------------------------------------ override points

    def build_model(self) -> keras.Model:
        """The config's model, in train_config.mixed_precision's compute dtype."""
        return build_model(
            self.config.model_config,
            self.config.feature_configs,
            self.config.train_config.mixed_precision,
        )

    def build_variables(self) -> None:
        """Creates every model variable (where it lives: here, in this process) by
        calling the model on one empty-valued row."""
        self.model(self.inputs.dummy_inputs(), training=False)

    def check_memory(self, need: memory.Need, allocated: int = 0) -> None:
        """Refuses a model that cannot fit in this process (:func:`memory.check`)."""
        memory.check(need, allocated=allocated)

    def serving_model(self) -> keras.Model:
        """The model that exports write (the trained model itself)."""
        return self.model

    def build_dataset(
        self, training: bool, epoch: int = 0, shard: tuple[int, int] | None = None
    ) -> tf.data.Dataset:
        """The train or eval batches. With several workers, each trains on its shard
        (:meth:`Inputs.dataset`); `shard` is (index, workers) of the training shard
        wanted, by default this worker's."""
        shard = shard or (self.cluster.index, self.cluster.num_workers)
        return self.inputs.dataset(training, epoch, shard)

    def build_train_step(self) -> TrainStep:
        """The step's losses, gradients, clipping and non-finite check (see
        :class:`TrainStep`); :meth:`run_step` applies its gradients."""
        train = self.config.train_config
        return TrainStep(
            self.model,
            self.tasks,
            self.weighting,
            self.state.embedding_vars,
            self.state.dense_vars,
            self.shared_vars,
            self.state.global_step,
            self.state.epoch,
            self.cluster,
            loss_scale=self.state.loss_scale,
            clipping_type=train.grad_clipping.clipping_type,
            max_gradient=train.grad_clipping.max_gradient,
            skip_non_finite=train.nan_loss_policy == train_pb2.TrainConfig.SKIP_BATCH,
        )

    def build_evaluator(self) -> Evaluator:
        """The evaluation of the eval data (:class:`Evaluator`)."""
        return Evaluator(
            self.model,
            self.tasks,
            self.train_step.losses,
            self.score_eval,
            self.inputs,
            lambda: self.build_dataset(False),
            self.state,
            self.config,
            self.callbacks,
        )

    def schedule(self, num_epochs: int | None) -> LocalSchedule:
        """How the loop's steps run: here, one :meth:`run_step` a round on this
        process's batches (see :class:`LocalSchedule` for what a schedule answers)."""
        return LocalSchedule(self, num_epochs)

    # ------------------------------------------------------------------------- steps

    def run_step(self, batch: dict) -> StepResult:
        """One train step on `batch`, traced into the compiled step: the gradients (of
        every worker); their update (clipped, accumulated over
        train_config.gradient_accumulation_steps batches where set), withheld where a
        loss or gradient is NaN or Inf or where float16's scaled gradients overflowed
        (the loss scale then shrinks; :class:`LossScale`); the counters. The loop judges
        a withheld update, logs, saves and calls the callbacks around it. Override it to
        change what a step does."""
        features, labels = self.inputs.split(batch)
        grads = self.cluster.run(self.train_step.gradients, features, labels)
        skip = tf.reduce_any(grads.non_finite)
        if self.state.loss_scale is not None:
            grads = grads._replace(non_finite=self.state.loss_scale.update(grads.non_finite))
        tf.cond(skip, lambda: tf.constant(False), lambda: self.apply_gradients(grads))
        self.state.loss_weights.assign(grads.weights)
        self.state.global_step.assign_add(1)
        self.state.step_in_epoch.assign_add(1)
        examples = tf.shape(labels[self.inputs.label_names[0]])[0]
        return StepResult(
            grads.total,
            grads.losses,
            grads.weights,
            grads.non_finite,
            examples,
            labels,
            grads.predictions,
        )

    def apply_gradients(self, grads: Gradients) -> tf.Tensor:
        """Applies a finite step's gradients with the optimizers (the state's: clipped,
        accumulated where train_config says so), updates the loss weighting and adds
        the step's losses to the train log; returns True. Runs in :meth:`run_step`'s
        conditional; a strategy overrides it to run the update where its variables
        live."""
        self.state.apply(grads.gradients, clip=self.train_step.clip)
        self.weighting.update(grads.task_losses, grads.grad_norms)
        self.train_log.update(grads.total, grads.losses)
        return tf.constant(True)

    def compiled_step(self, name: str, dataset: tf.data.Dataset):
        """The train (`name` "train": :meth:`run_step`) or eval ("eval":
        :meth:`Evaluator.run_step`) step as one tf.function, traced once for the
        dataset's element spec (batch dimension None, so the last, smaller batch
        reuses it)."""
        if name == "eval":
            return self.evaluator.compiled(dataset)
        if self._train_function is None:
            self._train_function = tf.function(
                self.run_step, input_signature=[dataset.element_spec], autograph=False
            )
        return self._train_function

    def split(self, batch: dict) -> tuple[dict, dict]:
        """(features, labels) of a batch (:meth:`Inputs.split`)."""
        return self.inputs.split(batch)

    def serving_specs(self) -> dict[str, tf.TensorSpec]:
        """The serving signature's inputs (:meth:`Inputs.serving_specs`)."""
        return self.inputs.serving_specs()

    # ------------------------------------------------------------------- train / eval

    @property
    def global_step(self) -> tf.Variable:
        """The state's global step (for callbacks: the step of the model in memory)."""
        return self.state.global_step

    @property
    def history(self) -> list[tuple[int, dict[str, float]]]:
        """(step, {"total": loss, "<tower>": loss}) at every log step of train()."""
        return self.train_log.history

    def restore(self, required: bool = False) -> int:
        """Restores the newest readable checkpoint of model_dir (see
        :func:`easymtl.checkpoints.latest_readable`); returns its global step. Without
        one, a training run (not `required`) warm starts from
        train_config.fine_tune_checkpoint if it is set (step 0)."""
        latest = checkpoints.latest_readable(
            self.model_dir, set_aside=not required and self.cluster.is_chief
        )
        self.restored = latest
        if latest is None:
            if required:
                raise EasymtlError(f"model_dir {self.model_dir!r}: no checkpoint to load")
            if self.config.train_config.fine_tune_checkpoint:
                self.warm_start = warm_start(self)
            return 0
        try:
            return self.state.restore(latest)
        except CheckpointMismatch as e:
            raise EasymtlError(
                f"model_dir {self.model_dir!r}: its checkpoint {os.path.basename(latest)} is "
                f"of a different model than this config ({e}); use a new model_dir, or "
                "the config the checkpoint was trained with (model_dir/pipeline.config)"
            ) from None

    def train(self, continue_train: bool = False) -> int:
        """Trains from the latest checkpoint to the configured end; returns the step.

        A finished run is trained further on new train_input_path files only with
        `continue_train` (a new run: see :mod:`easymtl.lifecycle.runs`).

        A SIGTERM or SIGINT stops after the current step with a checkpoint saved
        (raising :class:`Interrupted`); a second run on the same model_dir is refused.
        A callback's :meth:`request_stop` ends it early, as its end would.
        """
        self._stop_reason = None
        step = self.restore()
        if step:
            log.info("resuming from step %d (%s)", step, self.restored)
        self.run = runs.begin(self, step, continue_train)
        if self.run is None:  # finished
            if self.cluster.is_chief and os.path.isdir(self.model_dir):
                runs.record(self)
            return step
        num_steps, num_epochs = runs.limits(self, self.run)
        start = time.perf_counter()
        if self.cluster.is_chief:
            step = self._train_chief(step, num_steps, num_epochs)
        else:  # only the chief writes to model_dir
            with self.cluster.stop_on_lost_worker():
                step = TrainLoop(self, num_steps, num_epochs).run(step)
        reason = self._stop_reason or _limit_reached(step, num_steps, num_epochs)
        log.info(
            "training done at step %d in %.1fs (%s)", step, time.perf_counter() - start, reason
        )
        return step

    def _train_chief(self, step: int, num_steps: int | None, num_epochs: int | None) -> int:
        """The loop with checkpoints, the model_dir lock and the undo of a failed
        first run; then the counts of skipped rows and batches."""
        with (
            UndoOnFailure(self.model_dir) as undo,
            ModelDirLock(self.model_dir),
            self.cluster.stop_on_lost_worker(),
        ):
            runs.record(self)
            saver = RunSaver(self.state, self.config, undo, self.callbacks, self.memory.total)
            step = TrainLoop(self, num_steps, num_epochs, saver).run(step)
            runs.finish(self, self.run, step)
        if int(self.state.bad_rows_skipped.numpy()):
            log.warning(
                "%d bad training rows skipped (data_config.bad_row_policy: SKIP)",
                int(self.state.bad_rows_skipped.numpy()),
            )
        if int(self.state.skipped_batches.numpy()):
            log.warning(
                "%d batches skipped for a NaN or Inf loss (nan_loss_policy: SKIP_BATCH)",
                int(self.state.skipped_batches.numpy()),
            )
        return step

    def request_stop(self, reason: str) -> None:
        """Ends training before the next step, with a checkpoint saved and `reason`
        logged (for callbacks: early stopping, a detected collapse). The first reason
        requested is the one kept."""
        if self._stop_reason is None:
            self._stop_reason = reason

    @property
    def stop_reason(self) -> str | None:
        """Why the last :meth:`train` stopped early, if a stop was requested."""
        return self._stop_reason

    def evaluate(self, restore: bool = True) -> dict:
        """Evaluates the latest checkpoint on eval_input_path; writes eval_result.json
        (:meth:`Evaluator.evaluate`).

        Args:
            restore: Load the latest checkpoint first; False evaluates the variables as
                they are (an evaluation during training, or of a checkpoint the caller
                restored).
        """
        if restore:
            self.restore(required=True)
        return self.evaluator.evaluate()


def _limit_reached(step: int, num_steps: int | None, num_epochs: int | None) -> str:
    """Which limit of train_config ended training at `step`."""
    if num_steps is not None and step >= num_steps:
        return f"train_config.num_steps {num_steps} reached"
    before = f" before train_config.num_steps {num_steps}" if num_steps is not None else ""
    return f"train_config.num_epochs {num_epochs} done{before}"
