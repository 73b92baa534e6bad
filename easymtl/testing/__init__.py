"""Helpers shared by the tests: exact AUC and the SavedModel round-trip check."""

from __future__ import annotations

import numpy as np

from easymtl.testing import clean_process


def serve_in_clean_process(export_dir: str, inputs: dict[str, list]) -> dict[str, np.ndarray]:
    """Loads `export_dir` with only ``tf.saved_model.load`` in a process that never
    imported easymtl (:mod:`easymtl.testing.clean_process`: what a model server sees) and
    returns its ``serving_default`` outputs for `inputs` (raw column values by name)."""
    outputs = clean_process.call("load_and_call", export_dir, inputs)
    return {k: np.asarray(v) for k, v in outputs.items()}


def serve_both_ways_in_clean_process(
    exports: dict[str, str], inputs: dict[str, list]
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Loads each export of `exports` (name -> SavedModel directory) in a process that
    never imported easymtl, with ``tf.saved_model.load`` and with
    ``tf.compat.v1.saved_model.loader.load`` into a graph and session (as TensorFlow
    Serving's C++ loader and `saved_model_cli run` load it), and calls
    ``serving_default`` on `inputs` (raw column values by name; each export takes the
    columns it needs) both ways.

    Returns:
        ``{name: {"saved_model": outputs, "session": outputs}}``, outputs by output name.
    """
    results = clean_process.call("both_ways", exports, inputs)
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
