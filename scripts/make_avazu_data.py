"""Writes Avazu-style click data with a planted signal: EasyRec's avazu CTR columns.

The 23 columns, in file order and without a header, are those EasyRec's Avazu samples
read (samples/model_config/wide_and_deep_on_avazau_ctr.config,
deepfm_combo_on_avazu_ctr.config: ``label,hour,c1,banner_pos,site_id,...,c21``), so that
those configs run on it with only their input paths changed
(tests/convert/easyrec/). The values are what their features expect: ``hour`` 0-23,
``c1`` near 1000-1015, ``banner_pos`` 0-7, ``c19`` / ``c20`` / ``c21`` integers over
the configs' boundaries, the rest hexadecimal string ids (as Avazu's) drawn from
Zipf-popular vocabularies.

The label is Bernoulli(sigmoid(logit)) with the logit a planted sum of a weight per value
of 10 columns, 4-dim factor products for 5 pairs (site_id x app_id among them, which
EasyRec's ComboFeature crosses), and a bias giving a click rate near 25%. The
oracle AUC (of the true probabilities) is printed. Rows are i.i.d.; train and eval come
from one world (the seed).

Example:
    python scripts/make_avazu_data.py --out_dir samples/data   # 10,000 train / 2,000 eval
"""

from __future__ import annotations

import argparse
import os

import numpy as np

# (column, vocabulary size, kind): "hour" 0-23, "int" an integer below base + vocab,
# "hex" an 8-hex-digit string id.
COLUMNS = [
    ("hour", 24, "int"), ("c1", 7, "c1"), ("banner_pos", 8, "int"),
    ("site_id", 800, "hex"), ("site_domain", 60, "hex"), ("site_category", 20, "hex"),
    ("app_id", 800, "hex"), ("app_domain", 300, "hex"), ("app_category", 30, "hex"),
    ("device_id", 3000, "hex"), ("device_ip", 3000, "hex"), ("device_model", 500, "hex"),
    ("device_type", 5, "int"), ("device_conn_type", 4, "int"), ("c14", 400, "int"),
    ("c15", 8, "int"), ("c16", 9, "int"), ("c17", 300, "int"), ("c18", 4, "int"),
    ("c19", 60, "c19"), ("c20", 150, "c20"), ("c21", 60, "int"),
]  # fmt: skip
FIRST_ORDER = ["hour", "banner_pos", "site_id", "site_category", "app_id", "app_category",
               "device_model", "device_conn_type", "c14", "c20"]  # fmt: skip
PAIRS = [("site_id", "app_id"), ("hour", "device_type"), ("site_category", "c14"),
         ("app_category", "banner_pos"), ("device_model", "c17")]  # fmt: skip
FACTOR_DIM = 4


class World:
    """The planted model: each column's values, their popularity, weights and factors."""

    def __init__(self, rng: np.random.Generator):
        self.values = {name: _values(rng, name, n, kind) for name, n, kind in COLUMNS}
        self.popularity = {}
        for name, n, _ in COLUMNS:
            p = 1.0 / np.arange(1, n + 1) ** 1.1
            self.popularity[name] = p / p.sum()
        size = {name: n for name, n, _ in COLUMNS}
        self.first = {k: rng.normal(0.0, 0.35, size=size[k]) for k in FIRST_ORDER}
        self.factors = {
            k: rng.normal(0.0, 0.4, size=(size[k], FACTOR_DIM))
            for k in sorted({k for pair in PAIRS for k in pair})
        }
        self.bias = -1.9

    def sample(self, rng: np.random.Generator, n: int):
        """(label [n], value index by column, true probability [n]) of n rows."""
        index = {
            name: rng.choice(len(self.values[name]), size=n, p=self.popularity[name])
            for name, _, _ in COLUMNS
        }
        logit = np.full(n, self.bias)
        for k in FIRST_ORDER:
            logit += self.first[k][index[k]]
        for a, b in PAIRS:
            logit += np.sum(self.factors[a][index[a]] * self.factors[b][index[b]], axis=1)
        prob = 1.0 / (1.0 + np.exp(-logit))
        label = (rng.random(n) < prob).astype(np.int64)
        return label, index, prob


def _values(rng: np.random.Generator, name: str, n: int, kind: str) -> list[str]:
    if kind == "hex":
        return [f"{v:08x}" for v in rng.choice(2**32, size=n, replace=False)]
    if kind in ("c19", "c20"):  # spread over the configs' boundaries (10..190, 100..1400)
        step, top = (3, 200) if kind == "c19" else (7, 1500)
        return [str(v) for v in sorted(rng.choice(np.arange(0, top, step), size=n, replace=False))]
    base = 1000 if kind == "c1" else 0  # c1: 1000-1006, over its boundaries 1000..1015
    return [str(base + v) for v in range(n)]


def exact_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / max(n_pos * n_neg, 1))


def write(path: str, world: World, label, index) -> None:
    with open(path, "w") as f:
        for r in range(len(label)):
            cells = [str(label[r])] + [world.values[name][index[name][r]] for name, _, _ in COLUMNS]
            f.write(",".join(cells) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out_dir", default="samples/data", help="Output directory.")
    parser.add_argument("--train_rows", type=int, default=10000)
    parser.add_argument("--eval_rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2024, help="Seed of the world and rows.")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    world = World(rng)
    os.makedirs(args.out_dir, exist_ok=True)
    for split, rows in (("train", args.train_rows), ("eval", args.eval_rows)):
        label, index, prob = world.sample(rng, rows)
        path = os.path.join(args.out_dir, f"avazu_ctr_{split}.csv")
        write(path, world, label, index)
        print(
            f"{path}: {rows} rows, click rate {label.mean():.3f}, "
            f"oracle auc {exact_auc(prob, label):.4f}"
        )


if __name__ == "__main__":
    main()
