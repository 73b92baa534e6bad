"""Sharded embedding tables without a cluster: a table split into ShardedVariable shards
(as parameter-server training splits it) learns exactly as the whole table does, and its
checkpoints (table and optimizer slots) restore into any number of shards, none
included; TF_CONFIG with ps tasks is validated before anything connects."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from easymtl.distribute import _from_tf_config
from easymtl.errors import EasymtlError
from easymtl.optimizers import RowWiseOptimizer, table_parts
from easymtl.ps.cluster import MIN_SHARD_BYTES, TablePartitioner

ROWS, DIM = 13, 3
VALUES = np.arange(ROWS * DIM, dtype=np.float32).reshape(ROWS, DIM) / 10


def sharded(values: np.ndarray, count: int):
    """`values` split by rows as ParameterServerStrategy splits ("div": the first shards
    one row longer)."""
    sizes = [len(part) for part in np.array_split(values, count)]
    offsets = np.cumsum([0, *sizes])
    parts = [tf.Variable(values[a:b]) for a, b in zip(offsets[:-1], offsets[1:])]
    return tf.__internal__.distribute.ShardedVariable(parts) if count > 1 else parts[0]


def train(table, kind: str, steps: int = 3) -> tuple[np.ndarray, RowWiseOptimizer]:
    """`steps` of the row-wise optimizer on the rows [1, 4, 4, 12] of `table`."""
    optimizer = RowWiseOptimizer(kind, 0.1, initial_accumulator_value=0.1)
    optimizer.build([table])
    ids = tf.constant([1, 4, 4, 12], tf.int64)
    parts = table_parts(table)
    for step in range(steps):
        with tf.GradientTape() as tape:
            rows = tf.nn.embedding_lookup(table, ids)
            loss = tf.reduce_sum(rows * rows) + tf.reduce_sum(rows)
        optimizer.apply(tape.gradient(loss, parts), [table], tf.constant(step, tf.int64))
    return tf.convert_to_tensor(table).numpy(), optimizer


@pytest.mark.parametrize("kind", ["sgd", "adagrad", "adam"])
def test_sharded_table_learns_as_the_whole_table(kind):
    whole, _ = train(sharded(VALUES, 1), kind)
    for count in (2, 3):
        got, optimizer = train(sharded(VALUES, count), kind)
        np.testing.assert_allclose(got, whole, rtol=1e-6)
    untouched = [r for r in range(ROWS) if r not in (1, 4, 12)]
    np.testing.assert_array_equal(got[untouched], VALUES[untouched])
    if kind != "sgd":  # one slot per kind of moment, split as the table is
        assert all(len(table_parts(s)) == 3 for s in optimizer.slots[0])


@pytest.mark.parametrize("saved, restored", [(2, 1), (1, 3), (2, 3), (3, 2)])
def test_checkpoint_restores_into_another_number_of_shards(tmp_path, saved, restored):
    source = sharded(VALUES, saved)
    table, optimizer = train(source, "adagrad")
    path = tf.train.Checkpoint(table=source, optimizer=optimizer).save(str(tmp_path / "ckpt"))
    # Whole tensors in the checkpoint, whatever the shards.
    shapes = dict(tf.train.list_variables(path))
    assert shapes["table/.ATTRIBUTES/VARIABLE_VALUE"] == [ROWS, DIM]
    assert shapes["optimizer/slots/0/0/.ATTRIBUTES/VARIABLE_VALUE"] == [ROWS, DIM]

    target = sharded(np.zeros_like(VALUES), restored)
    fresh = RowWiseOptimizer("adagrad", 0.1)
    fresh.build([target])
    status = tf.train.Checkpoint(table=target, optimizer=fresh).restore(path)
    status.assert_existing_objects_matched()
    np.testing.assert_array_equal(tf.convert_to_tensor(target).numpy(), table)
    np.testing.assert_array_equal(
        tf.convert_to_tensor(fresh.slots[0][0]).numpy(),
        tf.convert_to_tensor(optimizer.slots[0][0]).numpy(),
    )


def test_partitioner_shards_tables_by_size():
    partitioner = TablePartitioner(num_ps=4)
    rows_per_shard = MIN_SHARD_BYTES // (8 * 4)
    assert partitioner.shards(10, 8) == 1  # small: whole, on one ps
    assert partitioner.shards(2 * rows_per_shard, 8) == 2
    assert partitioner.shards(100 * rows_per_shard, 8) == 4  # at most one per ps
    assert partitioner([100, 8], tf.float32) == [1, 1]  # outside splitting: whole
    with partitioner.splitting(3):
        assert partitioner([100, 8], tf.float32) == [3, 1]


def cluster_config(**jobs) -> str:
    import json

    task = jobs.pop("task")
    cluster = {job: [f"127.0.0.1:{2000 + i}" for i in range(n)] for job, n in jobs.items()}
    return json.dumps({"cluster": cluster, "task": {"type": task[0], "index": task[1]}})


@pytest.mark.parametrize(
    "jobs, message",
    [
        ({"worker": 2, "ps": 1, "task": ("worker", 0)}, "needs exactly one 'chief' task"),
        ({"chief": 1, "ps": 1, "task": ("chief", 0)}, "needs at least one 'worker' task"),
        ({"chief": 2, "worker": 1, "ps": 1, "task": ("chief", 0)}, "got 2"),
        ({"chief": 1, "worker": 1, "ps": 1, "task": ("evaluator", 0)}, "'evaluator'"),
        ({"chief": 1, "worker": 1, "evaluator": 1, "task": ("chief", 0)}, "'evaluator'"),
    ],
)
def test_bad_parameter_server_cluster_is_one_clear_error(jobs, message):
    with pytest.raises(EasymtlError, match=message):
        _from_tf_config(cluster_config(**jobs))


def test_worker_and_ps_tasks_only_serve():
    for kind in ("worker", "ps"):
        task = _from_tf_config(cluster_config(chief=1, worker=2, ps=2, task=(kind, 1)))
        assert task.ps is not None and not task.ps.is_coordinator and not task.is_chief
        assert (task.ps.num_workers, task.ps.num_ps, task.ps.task_index) == (2, 2, 1)
        assert task.ps.strategy is None  # nothing connects before serve()


def test_chief_waits_for_its_tasks_then_names_the_missing_ones(monkeypatch):
    import json

    from conftest import free_ports

    import easymtl.ps.cluster

    monkeypatch.setattr(easymtl.ps.cluster, "WAIT_SECONDS", 1)
    monkeypatch.setenv("GRPC_FAIL_FAST", "use_caller")
    chief, worker, ps = (f"127.0.0.1:{p}" for p in free_ports(3))  # nothing listens
    cluster = {"chief": [chief], "worker": [worker], "ps": [ps]}
    text = json.dumps({"cluster": cluster, "task": {"type": "chief", "index": 0}})
    with pytest.raises(EasymtlError, match=rf"tasks worker 0 \({worker}\), ps 0 \({ps}\) are"):
        _from_tf_config(text)
