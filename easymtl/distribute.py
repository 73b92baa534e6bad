"""Multi-worker training: synchronous data parallelism over the workers of ``TF_CONFIG``.

Every worker holds a full copy of the model and reads its own shard of the training
data. Each step, the workers' gradients are summed by collective all-reduce
(``tf.distribute.MultiWorkerMirroredStrategy``'s collectives; embedding gradients are
gathered as ``IndexedSlices``) and every worker applies the same update, so the copies
stay equal. The chief (the ``chief`` task, else worker 0) alone writes checkpoints,
summaries, evaluation results and exports; every worker restores the latest checkpoint
from model_dir (a shared file system) when it starts. After training the workers wait
for the chief to evaluate and export, so that every task ends together: the chief
reports a task that left early as crashed (it stopped sending heartbeats).

Without ``TF_CONFIG`` (or with one task) training is single-process and nothing here
runs in the step. A cluster with ``ps`` tasks trains asynchronously with parameter
servers instead (:mod:`easymtl.ps`): its Cluster carries the ParameterServers, and the
chief is a single process as far as this module's collectives go.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import tensorflow as tf

from easymtl.errors import EasymtlError

if TYPE_CHECKING:
    from easymtl.ps.cluster import ParameterServers


@dataclass(eq=False)  # hashable: tf.function methods are cached by instance
class Cluster:
    """Where this process stands among the training workers.

    Args:
        num_workers: Workers training together (1: single process).
        index: This worker's position, 0 … num_workers - 1 (the chief is 0).
        strategy: The MultiWorkerMirroredStrategy, or None for a single process.
        ps: In a parameter-server cluster, this task's place in it (see
            :mod:`easymtl.ps`); the chief then trains as one process here.
    """

    num_workers: int = 1
    index: int = 0
    strategy: tf.distribute.Strategy | None = None
    ps: ParameterServers | None = None

    @property
    def is_chief(self) -> bool:
        return self.index == 0 and (self.ps is None or self.ps.is_coordinator)

    def run(self, fn, *args):
        """Runs `fn(*args)` as this worker's replica (where :meth:`all_reduce` works)."""
        if self.strategy is None:
            return fn(*args)
        return self.strategy.run(fn, args=args)

    def all_reduce(self, values):
        """Sums `values` (tensors, IndexedSlices, None) over the workers; in :meth:`run`."""
        if self.strategy is None:
            return values
        context = tf.distribute.get_replica_context()
        # An op made here is placed on this replica's device; a tensor passed straight
        # through from the step's inputs is not, and collectives need a device.
        present = [
            v if isinstance(v, tf.IndexedSlices) else tf.identity(v)
            for v in values
            if v is not None
        ]
        summed = iter(context.all_reduce(tf.distribute.ReduceOp.SUM, present))
        return [None if v is None else next(summed) for v in values]

    def agree(self, flags: list[bool]) -> list[bool]:
        """For each flag, whether it holds on every worker (a collective call: every
        worker must make it, the same number of times)."""
        if self.strategy is None:
            return flags
        counts = self._count(tf.constant([float(f) for f in flags], tf.float32))
        return [int(c) == self.num_workers for c in counts.numpy()]

    @contextlib.contextmanager
    def stop_on_lost_worker(self):
        """Turns the error of a collective whose peer died into one line naming it.

        A killed worker's peers see its connection reset at once; one whose machine
        vanished is found by the coordination service's heartbeat (about 10 s) or
        MultiWorkerMirroredStrategy's health check, which abort the collectives, so
        the other tasks stop in bounded time rather than hang.
        """
        try:
            yield
        except _LOST as e:
            if self.strategy is None:
                raise
            message = " ".join(e.message.split())
            peers = [
                f"{job} {index}"
                for job, index in re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", message)
            ]
            cause = re.search(r"aborted by: ([^.]*?)(?: Additional| The error|$)", message)
            raise EasymtlError(
                f"TF_CONFIG task {peers[0] if peers else '(unknown)'} was lost "
                f"({cause.group(1).strip() if cause else type(e).__name__}); training "
                "stopped on this task too. Restart every task (the same command) to "
                "resume from the last checkpoint in model_dir"
            ) from None

    def wait_for_all(self) -> None:
        """Returns when every worker has called it (a collective call, as :meth:`agree`)."""
        self.agree([True])

    @tf.function(autograph=False)
    def _count(self, flags):
        return self.run(lambda f: self.all_reduce([f])[0], flags)


# What a collective raises when a peer task died or the cluster aborted it.
_LOST = (
    tf.errors.UnavailableError,
    tf.errors.AbortedError,
    tf.errors.CancelledError,
    tf.errors.DeadlineExceededError,
)

_CLUSTER: Cluster | None = None


def cluster() -> Cluster:
    """This process's Cluster, made from ``TF_CONFIG`` on the first call.

    Call it before TensorFlow runs any op (the CLIs do): collectives must be configured
    when the runtime starts.

    Raises:
        EasymtlError: ``TF_CONFIG`` is not valid JSON or names an unsupported task type.
    """
    global _CLUSTER
    if _CLUSTER is None:
        _CLUSTER = _from_tf_config(os.environ.get("TF_CONFIG", ""))
    return _CLUSTER


def _from_tf_config(text: str) -> Cluster:
    if not text.strip():
        return Cluster()
    try:
        spec = json.loads(text)
        jobs = spec.get("cluster", {})
        task = spec.get("task", {})
        kind, index = task.get("type"), int(task.get("index", 0))
    except (ValueError, AttributeError, TypeError) as e:
        raise EasymtlError(f"TF_CONFIG: not valid JSON of cluster and task: {e}") from None
    unknown = set(jobs) - {"chief", "worker", "ps"}
    if unknown or kind not in set(jobs) | {"chief", "worker"}:
        raise EasymtlError(
            f"TF_CONFIG: task types {sorted(unknown | {kind})} are not supported; "
            "expected 'chief' and 'worker' (MultiWorkerMirroredStrategy), and 'ps' for "
            "parameter servers"
        )
    if "ps" in jobs:
        from easymtl.ps.cluster import from_tf_config

        return Cluster(ps=from_tf_config(jobs, kind, index))
    chiefs = len(jobs.get("chief", []))
    num_workers = chiefs + len(jobs.get("worker", []))
    position = index if kind == "chief" else chiefs + index
    if num_workers <= 1:
        return Cluster()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    return Cluster(num_workers, position, strategy)
