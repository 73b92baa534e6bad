"""Helpers shared by the tests: exact AUC and the SavedModel round-trip check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

# Runs in a fresh interpreter that never imports easymtl: what a model server sees.
_LOAD_AND_CALL = r"""
import json, sys
import numpy as np
import tensorflow as tf
export_dir, inputs_path, out_path = sys.argv[1:4]
with open(inputs_path) as f:
    raw = json.load(f)
fn = tf.saved_model.load(export_dir).signatures["serving_default"]
specs = fn.structured_input_signature[1]
inputs = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in raw.items()}
outputs = {k: v.numpy().tolist() for k, v in fn(**inputs).items()}
assert not any(m.startswith("easymtl") for m in sys.modules), "easymtl was imported"
with open(out_path, "w") as f:
    json.dump(outputs, f)
"""


def serve_in_fresh_process(export_dir: str, inputs: dict[str, list]) -> dict[str, np.ndarray]:
    """Loads `export_dir` with only ``tf.saved_model.load`` in a new Python process and
    returns its ``serving_default`` outputs for `inputs` (raw column values by name)."""
    with tempfile.TemporaryDirectory() as tmp:
        inputs_path = os.path.join(tmp, "inputs.json")
        out_path = os.path.join(tmp, "outputs.json")
        with open(inputs_path, "w") as f:
            json.dump(inputs, f)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        subprocess.run(
            [sys.executable, "-c", _LOAD_AND_CALL, export_dir, inputs_path, out_path],
            check=True,
            env=env,
            cwd=tmp,
        )
        with open(out_path) as f:
            return {k: np.asarray(v) for k, v in json.load(f).items()}


# Runs in a fresh interpreter: each export loaded the TF2 way and the TF1 way (a graph
# and a session, as TensorFlow Serving's C++ loader and `saved_model_cli run` load it).
_LOAD_BOTH_WAYS = r"""
import json, sys
import tensorflow as tf
exports_path, inputs_path, out_path = sys.argv[1:4]
with open(exports_path) as f:
    exports = json.load(f)
with open(inputs_path) as f:
    raw = json.load(f)
results = {}
for name, export_dir in exports.items():
    fn = tf.saved_model.load(export_dir).signatures["serving_default"]
    specs = fn.structured_input_signature[1]
    inputs = {k: tf.constant(raw[k], dtype=specs[k].dtype) for k in specs}
    loaded = {k: v.numpy().tolist() for k, v in fn(**inputs).items()}
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], export_dir)
        signature = meta.signature_def["serving_default"]
        feed = {t.name: raw[k] for k, t in signature.inputs.items()}
        fetch = {k: t.name for k, t in signature.outputs.items()}
        session = {k: v.tolist() for k, v in sess.run(fetch, feed).items()}
    results[name] = {"saved_model": loaded, "session": session}
assert not any(m.startswith("easymtl") for m in sys.modules), "easymtl was imported"
with open(out_path, "w") as f:
    json.dump(results, f)
"""


def serve_both_ways_in_fresh_process(
    exports: dict[str, str], inputs: dict[str, list]
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Loads each export of `exports` (name -> SavedModel directory) in one new Python
    process, with ``tf.saved_model.load`` and with ``tf.compat.v1.saved_model.loader.load``
    into a graph and session, and calls ``serving_default`` on `inputs` (raw column values
    by name; each export takes the columns it needs) both ways.

    Returns:
        ``{name: {"saved_model": outputs, "session": outputs}}``, outputs by output name.
    """
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, f) for f in ("exports.json", "inputs.json", "out.json")]
        for path, value in zip(paths, (exports, inputs)):
            with open(path, "w") as f:
                json.dump(value, f)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        subprocess.run(
            [sys.executable, "-c", _LOAD_BOTH_WAYS, *paths], check=True, env=env, cwd=tmp
        )
        with open(paths[2]) as f:
            results = json.load(f)
    return {
        name: {way: {k: np.asarray(v) for k, v in out.items()} for way, out in ways.items()}
        for name, ways in results.items()
    }


def serve_with_session(export_dir: str, inputs: dict[str, list]) -> dict[str, np.ndarray]:
    """``serving_default`` of `export_dir` loaded the TF1 way, as TensorFlow Serving's C++
    loader and `saved_model_cli run` load it: into a graph and a session of their own
    (``tf.compat.v1.saved_model.loader.load``), fed `inputs` (raw column values by name)
    by tensor name; its outputs by output name."""
    import tensorflow as tf

    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], export_dir)
        signature = meta.signature_def["serving_default"]
        feed = {t.name: inputs[k] for k, t in signature.inputs.items()}
        fetch = {k: t.name for k, t in signature.outputs.items()}
        return sess.run(fetch, feed)


def exact_auc(labels, scores) -> float:
    """ROC AUC by the Mann-Whitney rank statistic, ties counted as half."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # Average ranks over ties.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(scores)]
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    pos = labels.sum()
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    return float((ranks[labels].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def csv_to_parquet(csv_path, fields, parquet_path, lists=()) -> None:
    """Writes a header-less CSV (columns typed as the Field messages `fields`) as Parquet;
    the `lists` columns become list<string>, split at "|" ("" is an empty list, as
    splitting it in the model gives no ids)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from easymtl.protos import data_pb2

    types = {"INT32": pa.int32(), "INT64": pa.int64(), "STRING": pa.string()}
    types.update(FLOAT=pa.float32(), DOUBLE=pa.float64())
    kinds = {f.input_name: types[data_pb2.FieldType.Name(f.input_type)] for f in fields}
    table = pa_csv.read_csv(
        csv_path,
        read_options=pa_csv.ReadOptions(column_names=[f.input_name for f in fields]),
        convert_options=pa_csv.ConvertOptions(
            column_types=kinds,
            strings_can_be_null=False,
        ),
    )
    empty = pa.scalar([], pa.list_(pa.string()))
    for name in lists:
        values = table.column(name)
        split = pc.if_else(pc.equal(values, ""), empty, pc.split_pattern(values, "|"))
        table = table.set_column(table.schema.get_field_index(name), name, split)
    pq.write_table(table, parquet_path)
