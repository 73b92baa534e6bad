"""A parameter-server cluster from ``TF_CONFIG``: the chief's strategy and coordinator,
the servers of the other tasks, and the sharding of embedding tables.

The chief (task type ``chief``) is the coordinator: it builds the model with its
variables on the ``ps`` tasks, schedules train steps on the ``worker`` tasks, and alone
checkpoints, evaluates and exports. Every ``worker`` and ``ps`` task only runs a
TensorFlow server (:meth:`ParameterServers.serve`) until the chief releases it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import time
import uuid
from dataclasses import dataclass

import tensorflow as tf

from easymtl.errors import EasymtlError

log = logging.getLogger("easymtl")

# A table is split into shards of at least this size (TensorFlow's recommendation for
# MinSizePartitioner), at most one per ps task; smaller tables stay whole, on one ps.
MIN_SHARD_BYTES = 256 << 10

# How long the chief waits for the worker and ps tasks to start.
WAIT_SECONDS = 900

# The file in model_dir by which the chief tells the servers that the job is done.
RELEASE_FILE = "cluster_done"


@dataclass(eq=False)
class ParameterServers:
    """This process's place in a parameter-server cluster.

    Args:
        task_type: "chief", "worker" or "ps".
        task_index: The task's index among those of its type.
        num_workers: The worker tasks.
        num_ps: The ps tasks.
        strategy: The ParameterServerStrategy (the chief only).
        coordinator: Its ClusterCoordinator (the chief only).
        partitioner: Shards the variables made under :meth:`sharding` (the chief only).
    """

    task_type: str
    task_index: int
    num_workers: int
    num_ps: int
    strategy: tf.distribute.Strategy | None = None
    coordinator: object | None = None
    partitioner: TablePartitioner | None = None

    @property
    def is_coordinator(self) -> bool:
        return self.task_type == "chief"

    @contextlib.contextmanager
    def sharding(self, rows: int, dim: int, initializer):
        """Within it, the first variable of `rows` x `dim` made (an embedding table) is
        split over the ps tasks by rows (a ``ShardedVariable``, whose shards are
        initialized each on its ps, by `initializer` called with the shard's shape);
        other variables are made as usual."""
        shards = self.partitioner.shards(rows, dim)

        def creator(next_creator, **kwargs):
            nonlocal shards
            if shards is None:
                return next_creator(**kwargs)
            count, shards = shards, None
            dtype = tf.as_dtype(kwargs.get("dtype") or tf.float32)

            def initial_value(partition_shape=None, partition_offset=None):
                del partition_offset  # each shard's rows are drawn on their own
                return initializer(partition_shape or (rows, dim), dtype=dtype)

            kwargs.update(shape=(rows, dim), dtype=dtype, initial_value=initial_value)
            with self.partitioner.splitting(count):
                return next_creator(**kwargs)

        with tf.variable_creator_scope(creator):
            yield

    def serve(self, model_dir: str) -> None:
        """Runs this worker or ps task's TensorFlow server until the chief releases the
        cluster (:meth:`release`), then returns."""
        _fail_fast()
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        server = tf.distribute.Server(
            resolver.cluster_spec(),
            job_name=self.task_type,
            task_index=self.task_index,
            protocol=resolver.rpc_layer or "grpc",
            start=True,
        )
        marker = os.path.join(model_dir, RELEASE_FILE)
        seen = _read(marker)
        log.info(
            "TF_CONFIG task %s %d serving at %s; it ends when the chief has trained, "
            "evaluated and exported (it writes %s)",
            self.task_type,
            self.task_index,
            server.target,
            marker,
        )
        while _read(marker) == seen:
            time.sleep(1.0)
        log.info("released by the chief (%s)", marker)

    def release(self, model_dir: str) -> None:
        """Tells the worker and ps tasks that the job is done (the chief, at its end)."""
        tf.io.gfile.makedirs(model_dir)
        with tf.io.gfile.GFile(os.path.join(model_dir, RELEASE_FILE), "w") as f:
            f.write(f"{uuid.uuid4().hex} {time.time():.0f}\n")


class TablePartitioner:
    """The strategy's variable partitioner: one shard per variable (a whole variable on
    one ps, round robin) except inside :meth:`splitting`.

    Args:
        num_ps: The ps tasks.
    """

    def __init__(self, num_ps: int):
        self.num_ps = num_ps
        self._count = 1

    def shards(self, rows: int, dim: int, dtype_size: int = 4) -> int:
        """How many shards a table of `rows` x `dim` gets: one per MIN_SHARD_BYTES, at
        most one per ps and one per row."""
        by_size = math.ceil(rows * dim * dtype_size / MIN_SHARD_BYTES)
        return max(1, min(self.num_ps, by_size, rows))

    @contextlib.contextmanager
    def splitting(self, count: int):
        self._count = count
        try:
            yield
        finally:
            self._count = 1

    def __call__(self, shape, dtype, axis=0):
        del dtype, axis
        return [self._count] + [1] * (len(shape) - 1)


def from_tf_config(jobs: dict, kind: str, index: int) -> ParameterServers:
    """The ParameterServers of a TF_CONFIG whose cluster has ps tasks (`jobs`), for
    this task (`kind`, `index`); on the chief, connects to the cluster.

    Raises:
        EasymtlError: the cluster lacks a chief, a worker or a ps, or has more than one
            chief.
    """
    for job, expected in (("chief", "exactly one"), ("worker", "at least one")):
        count = len(jobs.get(job, []))
        if count == 0 or (job == "chief" and count > 1):
            raise EasymtlError(
                f"TF_CONFIG: a cluster with 'ps' tasks needs {expected} '{job}' task "
                f"(got {count}): the chief coordinates, the workers compute the steps"
            )
    num_workers, num_ps = len(jobs["worker"]), len(jobs["ps"])
    if kind != "chief":
        return ParameterServers(kind, index, num_workers, num_ps)
    _fail_fast()
    _wait_for_tasks({job: jobs[job] for job in ("worker", "ps")})
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    partitioner = TablePartitioner(num_ps)
    strategy = tf.distribute.ParameterServerStrategy(resolver, variable_partitioner=partitioner)
    coordinator = tf.distribute.coordinator.ClusterCoordinator(strategy)
    log.info("parameter-server training: %d workers, %d ps", num_workers, num_ps)
    return ParameterServers(kind, index, num_workers, num_ps, strategy, coordinator, partitioner)


def _wait_for_tasks(jobs: dict) -> None:
    """Returns once every task of `jobs` ({job: [host:port, ...]}) accepts connections:
    the chief connects to all of them at once, and tasks start in any order.

    Raises:
        EasymtlError: some are still not reachable after WAIT_SECONDS.
    """
    timeout = WAIT_SECONDS
    pending = {(job, i): address for job, tasks in jobs.items() for i, address in enumerate(tasks)}
    start = said = time.monotonic()
    while pending:
        for task, address in list(pending.items()):
            host, _, port = address.rpartition(":")
            with contextlib.suppress(OSError, ValueError):
                socket.create_connection((host.strip("[]"), int(port)), timeout=1.0).close()
                del pending[task]
        if not pending:
            return
        waited = time.monotonic() - start
        names = ", ".join(f"{job} {i} ({address})" for (job, i), address in pending.items())
        if waited > timeout:
            raise EasymtlError(
                f"TF_CONFIG: tasks {names} are not reachable after {timeout:.0f}s; start "
                "them (the same command, each with its own TF_CONFIG task)"
            )
        if time.monotonic() - said > 30:
            log.info("waiting for TF_CONFIG tasks %s to start", names)
            said = time.monotonic()
        time.sleep(0.5)


def _fail_fast() -> None:
    """RPCs to a task that is down fail at once, so that the coordinator reschedules a
    lost worker's steps without waiting (TensorFlow's advice for every task of
    parameter-server training); set before the task's server starts."""
    os.environ.setdefault("GRPC_FAIL_FAST", "use_caller")


def _read(path: str) -> str | None:
    try:
        with tf.io.gfile.GFile(path) as f:
            return f.read()
    except tf.errors.NotFoundError:
        return None
