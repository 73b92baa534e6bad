"""The peer of scripts/reproduce/rankers_vs_deepctr.py: DeepCTR 0.9.4's DeepFM, xDeepFM, DCN
and WDL on the same CSV data, sizes and epoch.

Runs in DeepCTR's virtualenv (tensorflow-cpu 2.21, tf-keras, deepctr 0.9.4, pandas; see
docs/performance.md) with TF_USE_LEGACY_KERAS=1, since easymtl is not installed there.
The driver passes a JSON spec: the files, the columns, which are sparse (their ids are
factorized per column; 0 is a missing cell), dense or bucketized, the model and its
sizes, batch size, learning rate and seed. Prints one JSON line: the eval AUC, the
training rows, the seconds ``model.fit`` took for one epoch and the seconds pandas took
to read the train rows (their share of the read of both files).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd
import tensorflow as tf
from deepctr.feature_column import DenseFeat, SparseFeat, get_feature_names
from deepctr.models import DCN, WDL, DeepFM, xDeepFM


def exact_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC (ties counted half), as easymtl.testing computes it."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores[np.r_[np.diff(np.sort(scores)) == 0, False]]):
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    pos = labels > 0.5
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def read(spec: dict):
    frames = [
        pd.read_csv(path, header=None, names=spec["columns"], dtype=str, keep_default_na=False)
        for path in (spec["train"], spec["eval"])
    ]
    n_train = len(frames[0])
    frame = pd.concat(frames, ignore_index=True)
    x, columns = {}, []
    for name in spec["sparse"]:
        codes, uniques = pd.factorize(frame[name])
        codes = np.where(frame[name].to_numpy() == "", 0, codes + 1)
        x[name] = codes.astype(np.int32)
        columns.append(SparseFeat(name, len(uniques) + 1, embedding_dim=spec["embedding_dim"]))
    for name, boundaries in spec.get("bucketized", {}).items():
        values = pd.to_numeric(frame[name], errors="coerce").fillna(0.0).to_numpy()
        x[name] = np.digitize(values, boundaries).astype(np.int32)
        columns.append(SparseFeat(name, len(boundaries) + 1, embedding_dim=spec["embedding_dim"]))
    for name in spec["dense"]:
        x[name] = pd.to_numeric(frame[name], errors="coerce").fillna(0.0).to_numpy(np.float32)
        columns.append(DenseFeat(name, 1))
    y = pd.to_numeric(frame[spec["label"]]).to_numpy(np.float32)
    train = {k: v[:n_train] for k, v in x.items()}
    evals = {k: v[n_train:] for k, v in x.items()}
    return columns, train, y[:n_train], evals, y[n_train:]


def build(spec: dict, columns):
    m, deep = spec["model"], tuple(spec["deep"])
    common = {"dnn_hidden_units": deep, "seed": spec["seed"]}
    if spec.get("l2_reg_embedding") is not None:  # else DeepCTR's default, 1e-5
        common["l2_reg_embedding"] = spec["l2_reg_embedding"]
    if m == "deepfm":
        return DeepFM(columns, columns, **common)
    if m == "wdl":
        return WDL(columns, columns, **common)
    # DeepCTR's DCN and xDeepFM add a linear logit over their first columns
    # (TorchEasyRec's have none); with "no_linear" those are none.
    linear = [] if spec.get("no_linear") else columns
    if m == "dcn":
        return DCN(
            linear, columns, cross_num=spec["cross_num"], cross_parameterization="vector", **common
        )
    if m == "xdeepfm":
        return xDeepFM(
            linear,
            columns,
            cin_layer_size=tuple(spec["cin_layer_size"]),
            cin_split_half=False,
            cin_activation="linear",
            **common,
        )
    raise SystemExit(f"unknown model {m!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", required=True, help="The JSON spec (a string).")
    spec = json.loads(parser.parse_args().spec)
    tf.random.set_seed(spec["seed"])
    np.random.seed(spec["seed"])
    start = time.perf_counter()
    columns, x, y, x_eval, y_eval = read(spec)
    read_seconds = time.perf_counter() - start
    model = build(spec, columns)
    model.compile(tf.keras.optimizers.Adam(spec["lr"]), loss="binary_crossentropy")
    names = get_feature_names(columns)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(
        {n: x[n] for n in names},
        y,
        batch_size=spec["batch_size"],
        epochs=1,
        verbose=0,
        shuffle=True,
    )
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    pred = model.predict({n: x_eval[n] for n in names}, batch_size=4096, verbose=0).ravel()
    result = {"auc": exact_auc(y_eval, pred), "rows": len(y), "train_seconds": seconds}
    result["cpu_seconds"] = cpu
    # pandas' read of the train and eval files (the eval share pro rata left out).
    result["read_seconds"] = read_seconds * len(y) / (len(y) + len(y_eval))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
