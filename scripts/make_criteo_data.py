"""Writes Criteo-style click data with a planted signal: 13 dense and 26 categorical columns.

The columns are named as TorchEasyRec's Criteo configs read them (examples/deepfm_criteo.config
and the others: ``label``, ``int_0`` ... ``int_12``, ``cat_0`` ... ``cat_25``), so that those
configs run on it with only their input changed (scripts/tzrec_configs.py). The values are
what those configs expect of the preprocessed ("hashed") Criteo table: each ``cat_k`` an
integer id below its column's ``num_buckets`` in the TorchEasyRec configs (ids are drawn
from a smaller vocabulary, Zipf-popular), each ``int_k`` a float, log1p of a count.

The label is Bernoulli(sigmoid(logit)) with the logit a planted sum of

- first-order terms: a weight per id of 12 of the categorical columns, and per dense column;
- second-order terms, as a factorization machine has them: <u_a[id_a], u_b[id_b]> for 10
  pairs of categorical columns (4-dim factors), and two products of dense columns;
- a bias giving a click rate near Criteo's 25%.

So a model that learns feature interactions (FM, cross networks, CIN, dot products) has
something to find beyond a logistic regression; the oracle AUC (of the true
probabilities) is printed. Rows are i.i.d.; train and eval come from one world (the seed).

Example:
    python scripts/make_criteo_data.py --out_dir /tmp/criteo --train_rows 200000 \\
        --eval_rows 50000 --format parquet
"""

from __future__ import annotations

import argparse
import os

import numpy as np

NUM_DENSE, NUM_SPARSE = 13, 26
# num_buckets of cat_k in TorchEasyRec's Criteo configs (examples/deepfm_criteo.config).
NUM_BUCKETS = [
    40000000, 39060, 17295, 7424, 20265, 3, 7122, 1543, 63, 40000000, 3067956, 405282,
    10, 2209, 11938, 155, 4, 976, 14, 40000000, 40000000, 40000000, 590152, 12973, 108, 36,
]  # fmt: skip
VOCAB_CAP = 5000  # distinct ids drawn per column, at most
FIRST_ORDER = [0, 1, 2, 3, 4, 6, 7, 9, 10, 13, 14, 17]
PAIRS = [(0, 1), (2, 3), (4, 6), (7, 9), (10, 13), (1, 14), (3, 17), (0, 10), (5, 8), (11, 12)]
FACTOR_DIM = 4


def columns() -> list[str]:
    """The columns, in file order."""
    return (
        ["label"] + [f"int_{i}" for i in range(NUM_DENSE)] + [f"cat_{i}" for i in range(NUM_SPARSE)]
    )


class World:
    """The planted model: vocabularies, id popularity, weights and factors."""

    def __init__(self, rng: np.random.Generator):
        self.vocab = [min(n, VOCAB_CAP) for n in NUM_BUCKETS]
        # Each column's ids: distinct values below num_buckets, in popularity order.
        self.ids = [
            rng.choice(n, size=v, replace=False) if n > v else np.arange(n)
            for n, v in zip(NUM_BUCKETS, self.vocab)
        ]
        self.popularity = []
        for v in self.vocab:
            p = 1.0 / np.arange(1, v + 1) ** 1.1
            self.popularity.append(p / p.sum())
        self.first = {k: rng.normal(0.0, 0.3, size=self.vocab[k]) for k in FIRST_ORDER}
        self.factors = {
            k: rng.normal(0.0, 0.32, size=(self.vocab[k], FACTOR_DIM))
            for k in sorted({k for pair in PAIRS for k in pair})
        }
        self.dense_scale = rng.uniform(0.5, 3.0, size=NUM_DENSE)
        self.dense_weight = rng.normal(0.0, 0.25, size=NUM_DENSE)
        self.bias = -1.5

    def sample(self, rng: np.random.Generator, n: int):
        """(label, dense [n, 13], id index [n, 26], true probability) of n rows."""
        index = np.stack(
            [rng.choice(v, size=n, p=p) for v, p in zip(self.vocab, self.popularity)], 1
        )
        counts = rng.poisson(np.exp(rng.normal(self.dense_scale, 1.0, size=(n, NUM_DENSE))))
        dense = np.log1p(counts).astype(np.float32)
        centered = (dense - dense.mean(0)) / (dense.std(0) + 1e-6)
        logit = np.full(n, self.bias)
        for k in FIRST_ORDER:
            logit += self.first[k][index[:, k]]
        for a, b in PAIRS:
            logit += np.sum(self.factors[a][index[:, a]] * self.factors[b][index[:, b]], axis=1)
        logit += centered @ self.dense_weight
        logit += 0.4 * centered[:, 0] * centered[:, 1] - 0.3 * centered[:, 2] * centered[:, 5]
        prob = 1.0 / (1.0 + np.exp(-logit))
        label = (rng.random(n) < prob).astype(np.int64)
        return label, dense, index, prob


def exact_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / max(n_pos * n_neg, 1))


def write(path: str, world: World, label, dense, index, fmt: str) -> None:
    ids = np.stack([world.ids[k][index[:, k]] for k in range(NUM_SPARSE)], 1)
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = {"label": pa.array(label, pa.int64())}
        data.update({f"int_{i}": pa.array(dense[:, i], pa.float32()) for i in range(NUM_DENSE)})
        data.update({f"cat_{i}": pa.array(ids[:, i], pa.int64()) for i in range(NUM_SPARSE)})
        pq.write_table(pa.table(data), path)
        return
    with open(path, "w") as f:
        for r in range(len(label)):
            cells = [str(label[r])] + [f"{v:.4f}" for v in dense[r]] + [str(v) for v in ids[r]]
            f.write(",".join(cells) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out_dir", default="samples/data", help="Output directory.")
    parser.add_argument("--train_rows", type=int, default=100000)
    parser.add_argument("--eval_rows", type=int, default=20000)
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv")
    parser.add_argument("--seed", type=int, default=2024, help="Seed of the world and rows.")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    world = World(rng)
    os.makedirs(args.out_dir, exist_ok=True)
    ext = "parquet" if args.format == "parquet" else "csv"
    for split, rows in (("train", args.train_rows), ("eval", args.eval_rows)):
        label, dense, index, prob = world.sample(rng, rows)
        path = os.path.join(args.out_dir, f"criteo_{split}.{ext}")
        write(path, world, label, dense, index, args.format)
        print(
            f"{path}: {rows} rows, click rate {label.mean():.3f}, "
            f"oracle auc {exact_auc(prob, label):.4f}"
        )


if __name__ == "__main__":
    main()
