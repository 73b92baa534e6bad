"""The peer of scripts/bench/throughput.py: DeepCTR 0.9.4's MMOE / PLE (or, for a ranker,
its DeepFM, xDeepFM, DCN or WDL) on the same data.

Runs in a virtualenv of its own (tensorflow-cpu 2.21, tf-keras, deepctr 0.9.4, pandas)
with TF_USE_LEGACY_KERAS=1; throughput.py makes it and passes the architecture as a JSON
spec (features, table sizes, experts, towers, learning rate), since easymtl is not
installed there. pandas reads the CSV files and turns each column into ids (counted as
the read time); ``model.fit`` trains on the arrays with Adam at the config's dense
learning rate (DeepCTR compiles one optimizer for all weights) and no L2 on embeddings.

DeepCTR's PLE gives every level the same expert counts and sizes; :func:`ple` is its
PLE function with one (specific, shared, hidden_units) per level, built from the same
DeepCTR layers, so that it matches configs whose levels differ.
"""

from __future__ import annotations

import argparse
import glob
import json
import time

import numpy as np
import pandas as pd
import tensorflow as tf
from bench_util import StepClock, auc, load_average, peak_rss_mb, seconds_since_start, write_json
from deepctr.feature_column import (
    SparseFeat,
    VarLenSparseFeat,
    build_input_features,
    input_from_feature_columns,
)
from deepctr.layers.core import DNN, PredictionLayer
from deepctr.layers.utils import combined_dnn_input, reduce_sum
from deepctr.models import DCN, MMOE, WDL, DeepFM, xDeepFM
from tensorflow.keras.layers import Dense, Lambda
from tensorflow.keras.models import Model


def read(files: list[str], spec: dict, vocabulary: dict | None = None) -> tuple[dict, dict, int]:
    """Model inputs (int ids; 0 is padding or missing) and labels from the CSV files.

    `vocabulary` (table -> pd.Index of the values seen, in id order) is filled by the
    first read (the training files) and kept by later ones (the eval files), so that a
    value has the same id in both; a value the training files lack gets an id after
    theirs (its row, never trained, as a hash bucket of its own would be)."""
    vocabulary = {} if vocabulary is None else vocabulary
    used = {f["column"] for f in spec["features"]} | set(spec["labels"].values())
    frame = pd.concat(
        [
            pd.read_csv(
                path,
                header=None,
                names=spec["columns"],
                usecols=sorted(used),
                dtype=str,
                keep_default_na=False,
            )
            for path in files
        ],
        ignore_index=True,
    )
    tokens = {}  # feature -> [rows, max tokens] object array of strings ("" = none)
    for f in spec["features"]:
        column = frame[f["column"]]
        if f.get("separator"):
            split = column.str.split(f["separator"], expand=True).fillna("")
            tokens[f["name"]] = split.to_numpy(dtype=object)
        else:
            tokens[f["name"]] = column.to_numpy(dtype=object)[:, None]
    x = {}
    by_table: dict[str, list[dict]] = {}
    for f in spec["features"]:
        by_table.setdefault(f["table"], []).append(f)
    for table, features in by_table.items():
        hashed = [f for f in features if f["kind"] == "hash"]
        if hashed:  # one vocabulary per table: its features share the ids
            every = np.concatenate([tokens[f["name"]].ravel() for f in hashed])
            if table in vocabulary:
                seen = vocabulary[table]
                codes = seen.get_indexer(every)
                new_codes, _ = pd.factorize(every[codes < 0])
                codes[codes < 0] = len(seen) + new_codes
            else:
                codes, uniques = pd.factorize(every)
                vocabulary[table] = pd.Index(uniques)
            offset = 0
            for f in hashed:
                t = tokens[f["name"]]
                c = codes[offset : offset + t.size].reshape(t.shape)
                offset += t.size
                x[f["name"]] = np.where(t == "", 0, c % f["rows"] + 1).astype(np.int32)
        for f in features:
            values = tokens[f["name"]]
            if f["kind"] == "num_buckets":
                v = pd.to_numeric(pd.Series(values.ravel()), errors="coerce").to_numpy()
                ok = (v >= 0) & (v < f["rows"])
                x[f["name"]] = np.where(ok, np.nan_to_num(v) + 1, 0).astype(np.int32)[:, None]
            elif f["kind"] == "boundaries":
                v = pd.to_numeric(pd.Series(values.ravel()), errors="coerce").fillna(0.0)
                buckets = np.searchsorted(f["boundaries"], v.to_numpy(), side="right")
                x[f["name"]] = (buckets + 1).astype(np.int32)[:, None]
    y = {task: frame[label].astype(np.float32).to_numpy() for task, label in spec["labels"].items()}
    return x, y, len(frame)


def feature_columns(spec: dict, x: dict) -> list:
    columns = []
    for f in spec["features"]:
        sparse = SparseFeat(f["name"], f["rows"] + 1, f["dim"], embedding_name=f["table"])
        if x[f["name"]].shape[1] > 1 or f.get("separator"):
            columns.append(VarLenSparseFeat(sparse, x[f["name"]].shape[1], f["pooling"]))
        else:
            columns.append(sparse)
    return columns


def ple(columns, levels: list[dict], tower_units, task_names) -> Model:
    """DeepCTR 0.9.4's PLE with one (specific, shared, units) per level, no L2."""
    n = len(task_names)
    features = build_input_features(columns)
    sparse, dense = input_from_feature_columns(features, columns, 0.0, 1024)
    x = [combined_dnn_input(sparse, dense)] * (n + 1)
    for i, level in enumerate(levels):
        name, last = f"level_{i}_", i == len(levels) - 1
        units, k, shared_k = level["units"], level["specific"], level["shared"]
        specific = [
            DNN(units, "relu", 0, 0, False, seed=1024, name=f"{name}task_{t}_expert_{j}")(x[ti])
            for ti, t in enumerate(task_names)
            for j in range(k)
        ]
        shared = [
            DNN(units, "relu", 0, 0, False, seed=1024, name=f"{name}expert_shared_{j}")(x[-1])
            for j in range(shared_k)
        ]
        outs = []
        gates = [(specific[t * k : (t + 1) * k] + shared, x[t]) for t in range(n)]
        if not last:
            gates.append((specific + shared, x[-1]))
        for experts, gate_input in gates:
            stacked = Lambda(lambda e: tf.stack(e, axis=1))(experts)
            gate = Dense(len(experts), use_bias=False, activation="softmax")(gate_input)
            gate = Lambda(lambda g: tf.expand_dims(g, axis=-1))(gate)
            outs.append(
                Lambda(lambda a: reduce_sum(a[0] * a[1], axis=1, keep_dims=False))([stacked, gate])
            )
        x = outs
    outputs = []
    for t, rep in zip(task_names, x):
        tower = DNN(tower_units, "relu", 0, 0, False, seed=1024, name=f"tower_{t}")(rep)
        logit = Dense(1, use_bias=False)(tower)
        outputs.append(PredictionLayer("binary", name=t)(logit))
    return Model(inputs=list(features.values()), outputs=outputs)


def ranker(kind: str, columns, m: dict) -> Model:
    """DeepCTR's model of an easymtl ranker's name (deepfm, xdeepfm, dcn_v1,
    wide_and_deep), every feature in its linear and deep parts, no L2."""
    deep = tuple(m["deep_units"])
    common = {"dnn_hidden_units": deep, "l2_reg_embedding": 0.0, "l2_reg_linear": 0.0}
    if kind == "deepfm":
        return DeepFM(columns, columns, **common)
    if kind == "wide_and_deep":
        return WDL(columns, columns, **common)
    if kind == "dcn_v1":
        return DCN(columns, columns, cross_num=m["cross_num"], **common)
    return xDeepFM(
        columns,
        columns,
        cin_layer_size=tuple(m["cin_layer_size"]),
        cin_split_half=False,
        cin_activation="linear",
        **common,
    )


class _Clock(tf.keras.callbacks.Callback):
    def __init__(self, clock: StepClock, batch_size: int, rows: int):
        super().__init__()
        self.clock, self.batch_size, self.rows = clock, batch_size, rows

    def on_train_batch_end(self, batch, logs=None):
        self.clock.mark(min(self.batch_size, self.rows - batch * self.batch_size))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", help="Unused here (the spec describes it).")
    p.add_argument("--spec", required=True, help="The architecture, from throughput.py.")
    p.add_argument("--train_files", required=True)
    p.add_argument("--eval_files", default=None, help="Predicted after training (AUC).")
    p.add_argument("--batch_size", type=int, default=1024)
    p.add_argument("--train_steps", type=int, default=None)
    p.add_argument("--warmup_steps", type=int, default=20)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)

    clock = StepClock()
    vocabulary: dict = {}
    x, y, rows_read = read(sorted(glob.glob(args.train_files)), spec, vocabulary)
    read_s = time.perf_counter() - clock.start_wall
    rows = rows_read
    if args.train_steps:
        rows = min(rows_read, args.train_steps * args.batch_size)
        x = {k: v[:rows] for k, v in x.items()}
        y = {k: v[:rows] for k, v in y.items()}
    tf.keras.utils.set_random_seed(1024)
    columns = feature_columns(spec, x)
    tasks = list(spec["labels"])
    m = spec["model"]
    if spec["kind"] == "mmoe":
        model = MMOE(
            columns,
            num_experts=m["num_expert"],
            expert_dnn_hidden_units=m["expert_units"],
            gate_dnn_hidden_units=m["gate_units"],
            tower_dnn_hidden_units=m["tower_units"],
            l2_reg_embedding=0.0,
            task_names=tasks,
        )
    elif spec["kind"] == "ple":
        model = ple(columns, m["levels"], m["tower_units"], tasks)
    else:
        model = ranker(spec["kind"], columns, m)
    model.compile(tf.keras.optimizers.Adam(spec["lr"]), loss="binary_crossentropy")
    model.fit(
        {k: v for k, v in x.items()},
        [y[t] for t in tasks],
        batch_size=args.batch_size,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[_Clock(clock, args.batch_size, rows)],
    )
    fit_s = clock.marks[-1][0] - clock.start_wall - read_s
    aucs = {}
    if args.eval_files:  # the whole process: read, train, read the eval rows, predict
        ex, ey, _ = read(sorted(glob.glob(args.eval_files)), spec, vocabulary)
        for name, v in ex.items():  # tag lists: as many places as in training
            width = x[name].shape[1]
            ex[name] = np.pad(v, [(0, 0), (0, max(width - v.shape[1], 0))])[:, :width]
        predicted = model.predict(ex, batch_size=args.batch_size, verbose=0)
        predicted = predicted if isinstance(predicted, list) else [predicted]
        for task, p in zip(tasks, predicted):
            aucs[f"auc_{task}"] = auc(ey[task], np.asarray(p).ravel())
    whole = {"wall_s": seconds_since_start(), "cpu_s": time.process_time()}
    write_json(
        args.out,
        {
            "part": "peer",
            "model": spec["kind"].upper(),
            "rows": rows,
            "read_s": read_s,
            "first_step_s": clock.first_step_s(),
            **clock.rate(args.warmup_steps),
            # The read of the rows trained on (pro rata when --train_steps cuts the epoch).
            "end_to_end_examples_per_sec": rows / (read_s * rows / rows_read + fit_s),
            "peak_rss_mb": peak_rss_mb(),
            "auc": aucs,
            "whole_process": whole,
            "load_average": load_average(),
        },
    )


if __name__ == "__main__":
    main()
