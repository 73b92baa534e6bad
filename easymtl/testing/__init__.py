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
