"""Will the model fit in memory? Its size, from the config, before TensorFlow allocates it.

Training holds every embedding table, every dense weight and the optimizers' slots (a
row-wise Adagrad keeps one accumulator per table entry, Adam two moments) in each
process. The tables are known from the config alone (rows × dimension of each
``EmbeddingTable`` layer, built but not yet allocated), so a config whose tables cannot
fit (``hash_bucket_size: 1000000000``, ``embedding_dim: 64``: 256 GB, twice that with
Adagrad) is refused before anything is allocated; once the model's variables exist
(tables and dense weights, but no optimizer slot yet) the whole size is checked again,
and a warning is logged when it would use more than half of the memory available.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from dataclasses import dataclass, field

from easymtl.disk import size_text
from easymtl.errors import EasymtlError

log = logging.getLogger("easymtl")

FLOAT_BYTES = 4


def sparse_slots(sparse_optimizer) -> int:
    """Slots per table entry of a SparseOptimizer message (default Adagrad)."""
    kind = sparse_optimizer.WhichOneof("optimizer") or "adagrad_optimizer"
    # rowwise_adagrad: one value per row, not per entry.
    return {"sgd_optimizer": 0, "adagrad_optimizer": 1, "rowwise_adagrad_optimizer": 0}.get(kind, 2)


def dense_slots(dense_optimizer) -> int:
    """Slots per dense weight of a DenseOptimizer message (default Adam)."""
    kind = dense_optimizer.WhichOneof("optimizer") or "adam_optimizer"
    if kind == "sgd_optimizer":
        return 1 if dense_optimizer.sgd_optimizer.momentum else 0
    return 1 if kind == "adagrad_optimizer" else 2


@dataclass
class Need:
    """Bytes a training process holds for the model's parameters.

    Args:
        tables: The embedding tables.
        table_slots: The sparse optimizer's slots of the tables.
        dense: The dense weights (None: not known yet, before the model is built).
        dense_slots: The dense optimizer's slots.
        largest: (table name, rows, dim) of the largest table.
    """

    tables: int
    table_slots: int
    dense: int | None = None
    dense_slots: int = 0
    largest: tuple[str, int, int] | None = field(default=None)

    @property
    def total(self) -> int:
        return self.tables + self.table_slots + (self.dense or 0) + self.dense_slots

    def parts(self) -> str:
        parts = [
            f"embedding tables {size_text(self.tables)}",
            f"their optimizer slots {size_text(self.table_slots)}",
        ]
        if self.dense is not None:
            parts += [
                f"dense weights {size_text(self.dense)}",
                f"dense optimizer slots {size_text(self.dense_slots)}",
            ]
        return " + ".join(parts)


def estimate(train_config, tables: dict, dense_variables=None) -> Need:
    """The bytes of `tables` (name → EmbeddingTable, built or not) and of
    `dense_variables` (None: not built yet), with the slots of train_config's optimizers."""
    sizes = {name: (t.num_rows, t.dim) for name, t in tables.items()}
    table_bytes = sum(r * d for r, d in sizes.values()) * FLOAT_BYTES
    largest = max(sizes.items(), key=lambda kv: kv[1][0] * kv[1][1], default=None)
    dense = None
    if dense_variables is not None:
        dense = sum(variable_bytes(v) for v in dense_variables)
    # Gradient accumulation keeps one more buffer of every parameter.
    accumulating = int(train_config.gradient_accumulation_steps > 1)
    return Need(
        tables=table_bytes,
        table_slots=table_bytes * (sparse_slots(train_config.sparse_optimizer) + accumulating),
        dense=dense,
        dense_slots=(dense or 0) * (dense_slots(train_config.dense_optimizer) + accumulating),
        largest=(largest[0], *largest[1]) if largest else None,
    )


def variable_bytes(variable) -> int:
    """The bytes of a Keras or TensorFlow variable's value."""
    import tensorflow as tf

    return math.prod(tuple(variable.shape)) * tf.as_dtype(variable.dtype).size


def available_bytes() -> int | None:
    """Memory this process can still allocate: the kernel's MemAvailable, or less where
    a cgroup limit leaves less; None where neither can be read."""
    found = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    v1 = "/sys/fs/cgroup/memory/memory."
    for limit, usage in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (v1 + "limit_in_bytes", v1 + "usage_in_bytes"),
    ):
        try:
            with open(limit) as f:
                text = f.read().strip()
            with open(usage) as f:
                used = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if text.isdigit() and int(text) < 1 << 60:
            found.append(max(int(text) - used, 0))
    if not found and hasattr(os, "sysconf"):
        with contextlib.suppress(OSError, ValueError):
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return min(found) if found else None


def check(need: Need, allocated: int = 0, available: int | None = None) -> None:
    """Refuses a model that cannot fit; warns when it takes more than half the memory.

    Args:
        need: The model's parameter bytes.
        allocated: Bytes of `need` that are allocated already (and so no longer count
            as available).
        available: Bytes available (default: :func:`available_bytes` now).

    Raises:
        EasymtlError: `need` exceeds the memory available.
    """
    available = available_bytes() if available is None else available
    if available is None:
        return
    available += allocated
    if need.total > available:
        hint = ""
        if need.largest:
            name, rows, dim = need.largest
            hint = (
                f"; the largest embedding table is {name} ({rows} x {dim}): lower the "
                "hash_bucket_size, num_buckets or embedding_dim of its features"
            )
        raise EasymtlError(
            f"memory: the model needs about {size_text(need.total)} ({need.parts()}) but "
            f"{size_text(available)} is available{hint}, or train on a machine with more "
            "memory"
        )
    if need.dense is not None and need.total > available / 2:
        log.warning(
            "memory: the model takes about %s (%s) of the %s available; the data pipeline "
            "and the training step need memory too",
            size_text(need.total),
            need.parts(),
            size_text(available),
        )
