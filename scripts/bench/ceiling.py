"""The ceiling of scripts/bench/throughput.py: what the model's math alone costs.

The config's architecture as a plain Keras 3 model trained with ``model.fit`` on
in-memory ids that were hashed/bucketized once, before the clock starts: no CSV, no
input pipeline beyond Keras' own slicing of arrays, no runner. It reuses easymtl's
backbone, tower and sequence encoder layers (MMoE, PLE, TaskTower, DINEncoder, ...:
plain Keras layers) and writes the rest directly: one ``tf.gather`` per feature into its
table, masked sum/mean pooling (a sequence's items on padded [rows, T, ids] ids, its
mask from the sequences' lengths), binary
cross-entropy per task, Keras' dense optimizer of the config (Adam) on the dense weights
and the same row-wise update of the embedding rows a batch touched (Adagrad or SGD) as
easymtl's sparse_optimizer.

Run by throughput.py; by hand:
    python scripts/bench/ceiling.py --config samples/configs/mmoe_taobao.config \\
        --train_files '/tmp/easymtl_bench/data/*train*.csv' --out /tmp/ceiling.json
"""

from __future__ import annotations

import argparse
import glob
import time

import keras
import numpy as np
import tensorflow as tf
from bench_util import StepClock, load_average, peak_rss_mb, write_json

from easymtl.config import load_config
from easymtl.data import build_dataset
from easymtl.models import build_model, build_model_tasks
from easymtl.optimizers import build_dense_optimizer


def prehash(config, model, files: list[str], limit: int | None) -> tuple[dict, dict]:
    """Features as in-memory arrays (ids padded with -1; dense values) and labels, made by
    easymtl's own feature layers so that the ids are the ones easymtl trains on. A
    sequence feature is its ids [rows, longest sequence, most ids per item] (int32, -1
    padded) and its lengths ``<name>__len`` [rows]."""
    f = model.features
    names = f.used_features()
    labels = [t.label_name for t in build_model_tasks(config.model_config)]
    dataset = build_dataset(
        config.data_config, files, f.used_inputs + labels, 65536, training=False
    )
    parts: dict[str, list] = {n: [] for n in names + labels}
    rows = 0
    for batch in dataset:
        for n in names:
            value = f.features[n](batch[f.input_names[n]])
            parts[n].append(value)
        for n in labels:
            parts[n].append(batch[n].numpy().astype(np.float32))
        rows += int(batch[labels[0]].shape[0])
        if limit is not None and rows >= limit:
            break
    x = {}
    for n in names:
        if f.is_sequence(n):
            if n not in f.embeddings:
                raise SystemExit(f"ceiling: dense sequence feature {n} is not written here")
            ids = tf.concat(parts[n], axis=0)[:limit]
            x[n] = ids.to_tensor(default_value=-1).numpy().astype(np.int32)
            x[n + "__len"] = ids.row_lengths().numpy().astype(np.int32)
        elif n in f.embeddings:
            ids = tf.concat(parts[n], axis=0)
            x[n] = ids.to_tensor(default_value=-1).numpy()[:limit]
        else:
            x[n] = np.concatenate([p.numpy() for p in parts[n]])[:limit]
    y = {n: np.concatenate(parts[n])[:limit] for n in labels}
    return x, y


class Ceiling(keras.Model):
    """Embedding lookups written directly, then easymtl's backbone and towers."""

    def __init__(self, easymtl_model, tasks, sparse_config, **kwargs):
        super().__init__(**kwargs)
        f = easymtl_model.features
        self.table_shapes = {t: (e.num_rows, e.dim) for t, e in f.tables.items()}
        self.embedded = dict(f.embeddings)
        self.groups = {g: list(names) for g, names in f.groups.items()}
        # Each group's sequence encoders, easymtl's own layers: (encoder, query features,
        # sequence features).
        self.group_encoders = {
            g: [
                (
                    name,
                    [n for n in f.sequence_groups[seq] if not f.is_sequence(n)],
                    [n for n in f.sequence_groups[seq] if f.is_sequence(n)],
                )
                for name, seq in pairs
            ]
            for g, pairs in f.group_encoders.items()
        }
        self.encoders = dict(f.encoders)
        self.backbone = easymtl_model.backbone
        self.towers = easymtl_model.towers
        self.tasks = [(t.name, t.label_name) for t in tasks]
        kind = sparse_config.WhichOneof("optimizer") or "adagrad_optimizer"
        if kind not in ("adagrad_optimizer", "sgd_optimizer"):
            raise SystemExit(f"ceiling: sparse_optimizer {kind} is not written here")
        c = getattr(sparse_config, kind)
        self.sparse_kind, self.sparse_lr = kind, c.lr
        self.accumulator_init = getattr(c, "initial_accumulator_value", 0.0)

    def build(self, input_shape=None):
        self.tables = {
            t: self.add_weight(shape=s, initializer="uniform", name=t)
            for t, s in self.table_shapes.items()
        }
        self.accumulators = {
            t: self.add_weight(
                shape=s,
                initializer=keras.initializers.Constant(self.accumulator_init),
                trainable=False,
                name=f"{t}_accumulator",
            )
            for t, s in self.table_shapes.items()
        }

    def _pooled(self, x, name):
        """A feature's [batch, width]: its ids' embeddings pooled, or its dense value."""
        if name not in self.embedded:
            return tf.cast(x[name], tf.float32)
        table, pooling = self.embedded[name]
        ids = x[name]
        mask = tf.cast(ids >= 0, tf.float32)
        # The tf.Variable itself, for a ResourceGather of the rows: gathering from
        # its (Keras variable's) value would read, and copy, the whole table.
        vectors = tf.gather(self.tables[table].value, tf.maximum(ids, 0))
        pooled = tf.reduce_sum(vectors * mask[..., None], axis=-2)
        if pooling == "mean":
            pooled /= tf.maximum(tf.reduce_sum(mask, axis=-1, keepdims=True), 1.0)
        return pooled

    def _encoded(self, x, encoder, queries, sequences, pooled, training):
        """A sequence encoder's output: the query features' vectors against the
        sequence features' item vectors [batch, T, d], valid below the shortest."""
        query = tf.concat([pooled[n] for n in queries], axis=-1)
        # Items pool their ids as a feature's ids are pooled: _pooled on [batch, T, K].
        sequence = tf.concat([self._pooled(x, n) for n in sequences], axis=-1)
        lengths = x[sequences[0] + "__len"]
        for n in sequences[1:]:
            lengths = tf.minimum(lengths, x[n + "__len"])
        mask = tf.sequence_mask(lengths, tf.shape(sequence)[1])
        return self.encoders[encoder](query, sequence, mask, training=training)

    def call(self, x, training=None):
        names = [n for g in self.groups.values() for n in g]
        names += [q for e in self.group_encoders.values() for _, qs, _ in e for q in qs]
        pooled = {n: self._pooled(x, n) for n in dict.fromkeys(names)}
        columns = []
        for group, names in self.groups.items():
            columns += [pooled[n] for n in names]
            for encoder, queries, sequences in self.group_encoders.get(group, []):
                columns.append(self._encoded(x, encoder, queries, sequences, pooled, training))
        reps = self.backbone(tf.concat(columns, axis=-1), training=training)
        return {
            name: tower(rep, training=training)
            for (name, tower), rep in zip(self.towers.items(), reps)
        }

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            logits = self(x, training=True)
            loss = tf.add_n(
                [
                    tf.reduce_mean(
                        tf.nn.sigmoid_cross_entropy_with_logits(labels=y[label], logits=logits[n])
                    )
                    for n, label in self.tasks
                ]
            )
        tables = list(self.tables.values())
        dense = [v for v in self.trainable_variables if not any(v is t for t in tables)]
        grads = tape.gradient(loss, tables + dense)
        self.optimizer.apply(grads[len(tables) :], dense)
        for table, accumulator, grad in zip(tables, self.accumulators.values(), grads):
            rows, index = tf.unique(grad.indices)
            values = tf.math.unsorted_segment_sum(grad.values, index, tf.shape(rows)[0])
            lr = tf.constant(self.sparse_lr, tf.float32)
            if self.sparse_kind == "sgd_optimizer":
                table.scatter_sub(tf.IndexedSlices(lr * values, rows))
            else:
                tf.raw_ops.ResourceSparseApplyAdagradV2(
                    var=table.value.handle,
                    accum=accumulator.value.handle,
                    lr=lr,
                    epsilon=1e-7,
                    grad=values,
                    indices=rows,
                )
        return {"loss": loss}


class _Clock(keras.callbacks.Callback):
    def __init__(self, clock: StepClock, batch_size: int, rows: int):
        super().__init__()
        self.clock, self.batch_size, self.rows = clock, batch_size, rows

    def on_train_batch_end(self, batch, logs=None):
        self.clock.mark(min(self.batch_size, self.rows - batch * self.batch_size))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True)
    p.add_argument("--train_files", required=True, help="A glob of the train CSV files.")
    p.add_argument("--batch_size", type=int, default=1024)
    p.add_argument("--train_steps", type=int, default=None, help="Default: one epoch.")
    p.add_argument("--warmup_steps", type=int, default=20)
    p.add_argument("--out", required=True, help="Result JSON file.")
    args = p.parse_args()

    config = load_config(args.config)
    keras.utils.set_random_seed(config.train_config.seed)
    files = sorted(glob.glob(args.train_files))
    easymtl_model = build_model(config.model_config, config.feature_configs)
    tasks = build_model_tasks(config.model_config)
    limit = args.train_steps * args.batch_size if args.train_steps else None
    start = time.perf_counter()
    x, y = prehash(config, easymtl_model, files, limit)
    prehash_s = time.perf_counter() - start
    rows = len(next(iter(y.values())))

    model = Ceiling(easymtl_model, tasks, config.train_config.sparse_optimizer)
    model.compile(
        optimizer=build_dense_optimizer(config.train_config.dense_optimizer), jit_compile=False
    )
    clock = StepClock()
    model.fit(
        x,
        y,
        batch_size=args.batch_size,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[_Clock(clock, args.batch_size, rows)],
    )
    write_json(
        args.out,
        {
            "part": "ceiling",
            "rows": rows,
            "prehash_s": prehash_s,
            "first_step_s": clock.first_step_s(),
            **clock.rate(args.warmup_steps),
            "peak_rss_mb": peak_rss_mb(),
            "load_average": load_average(),
        },
    )


if __name__ == "__main__":
    main()
