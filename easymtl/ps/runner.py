"""The runner of parameter-server training: the chief schedules asynchronous steps.

:class:`PSRunner` is the :class:`~easymtl.runner.Runner` of a chief whose ``TF_CONFIG``
has ``ps`` tasks. Its variables live on the ps tasks: the dense weights whole (round
robin), each embedding table split by rows into shards (see
:class:`~easymtl.ps.cluster.TablePartitioner`). Each step runs on one worker, on that
worker's shard of the training data (a share of the files, or every n-th batch, as
data-parallel training shards it): it gathers the rows its batch needs from the shards,
computes the gradients, and sends back the dense update and the touched rows' updates,
which the row-wise sparse optimizer applies on the ps that holds them. Workers do not
wait for each other (asynchronous training), so a step's gradient is its own batch's:
loss weightings that combine per-task gradients (PCGrad, GradNorm) combine that batch's,
as in a single process with that batch size.

The chief saves checkpoints (each ps writes its own shards), evaluates (reading the
variables where they are) and exports a copy of the model with whole tables.
"""

from __future__ import annotations

import logging

import keras
import tensorflow as tf

from easymtl.distribute import cluster
from easymtl.errors import ConfigError
from easymtl.models import build_model
from easymtl.optimizers import table_parts
from easymtl.protos import data_pb2
from easymtl.ps.schedule import AsyncSchedule
from easymtl.runner import Runner
from easymtl.train_step import Gradients

log = logging.getLogger("easymtl")


class PSRunner(Runner):
    """Trains with the parameter servers of ``TF_CONFIG`` (on the chief).

    It supplies variable placement (:meth:`build_variables`, :meth:`apply_gradients`)
    and step scheduling (:meth:`schedule`: :class:`~easymtl.ps.schedule.AsyncSchedule`);
    the loop, the step and the evaluation are the :class:`~easymtl.runner.Runner`'s.

    Args:
        config: A validated PipelineConfig.
        callbacks: As :class:`~easymtl.runner.Runner`'s.

    Raises:
        ConfigError: the input cannot be read on the workers (ParquetDataset), or the
            config asks for what asynchronous steps cannot do (gradient accumulation).
    """

    def __init__(self, config, callbacks=()):
        if config.train_config.gradient_accumulation_steps > 1:
            raise ConfigError(
                "train_config.gradient_accumulation_steps",
                "parameter-server workers step asynchronously, so there is no window of "
                "batches to accumulate over; use TF_CONFIG without 'ps' tasks, or a larger "
                "data_config.batch_size",
            )
        self.ps = cluster().ps
        if config.data_config.dataset_type == data_pb2.ParquetDataset:
            raise ConfigError(
                "data_config.dataset_type",
                "ParquetDataset cannot be read by parameter-server workers (its reader "
                "runs Python on the chief); use CsvDataset, or TF_CONFIG without 'ps' "
                "tasks (synchronous multi-worker training)",
            )
        with self.ps.strategy.scope():
            super().__init__(config, callbacks)

    # ------------------------------------------------------------------ placement

    def build_variables(self) -> None:
        """Makes each embedding table sharded over the ps tasks, then the rest (by
        tracing the model: run here, eagerly, a lookup of a sharded table would copy it
        to the chief)."""
        features = self.model.features
        with keras.name_scope(self.model.name), keras.name_scope(features.name):
            for table in features.tables.values():
                with self.ps.sharding(table.num_rows, table.dim, table.initializer):
                    table.build()
        build = tf.function(lambda inputs: self.model(inputs, training=False), autograph=False)
        build.get_concrete_function(self.inputs.dummy_inputs())
        for name, table in features.tables.items():
            shards = table_parts(table.embeddings)
            log.info(
                "table %s (%d x %d): %s",
                name,
                table.num_rows,
                table.dim,
                ", ".join(f"{v.shape[0]} rows on {_task(v)}" for v in shards),
            )

    def check_memory(self, need, allocated: int = 0) -> None:
        """The chief holds no parameter: each ps holds about 1/num_ps of them."""
        del allocated
        if need.dense is None:  # the first estimate, before the dense weights exist
            return
        log.info(
            "memory: the parameters take about %.1f MiB on each of the %d ps tasks (%s)",
            need.total / self.ps.num_ps / 2**20,
            self.ps.num_ps,
            need.parts(),
        )

    def serving_model(self) -> keras.Model:
        """A copy of the model in this process, its tables whole, for export."""
        model = build_model(
            self.config.model_config,
            self.config.feature_configs,
            self.config.train_config.mixed_precision,
        )
        model(self.inputs.dummy_inputs(), training=False)
        trained = {v.path: v for v in self.model.variables}
        for variable in model.variables:
            variable.assign(tf.convert_to_tensor(trained[variable.path].value))
        return model

    def apply_gradients(self, grads: Gradients) -> tf.Tensor:
        """The Runner's update, run in a replica context of the strategy, where a Keras
        optimizer (the dense one, GradNorm's) expects to run under a tf.distribute
        strategy (the step's conditional stays outside it, as merge_call requires); the
        dense gradients are first placed on the worker's device (the optimizer's
        all-reduce needs a device; they were computed outside the replica)."""
        apply = super().apply_gradients
        n = len(self.state.embedding_vars)

        def placed():
            dense = [tf.identity(g) for g in grads.gradients[n:]]
            return apply(grads._replace(gradients=grads.gradients[:n] + dense))

        return self.ps.strategy.run(placed)

    # ----------------------------------------------------------------- scheduling

    def schedule(self, num_epochs: int | None) -> AsyncSchedule:
        """Rounds of asynchronous steps on the workers (:class:`AsyncSchedule`)."""
        return AsyncSchedule(self, num_epochs)


def _task(variable) -> str:
    """Where a (Keras or TensorFlow) variable is: 'ps 1' for /job:ps/replica:0/task:1/..."""
    if isinstance(variable, keras.Variable):
        variable = variable.value
    spec = tf.DeviceSpec.from_string(variable.device)
    return f"{spec.job} {spec.task}"
