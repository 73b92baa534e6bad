"""Export: the trained model as a SavedModel whose serving signature takes raw columns.

Importing this package loads no TensorFlow (``python -m easymtl.export`` checks its flags
and config first); :func:`export_saved_model` loads it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid

from google.protobuf import text_format

from easymtl.export.info import EXPORT_INFO

log = logging.getLogger("easymtl")


def export_saved_model(
    model,
    specs: dict,
    export_dir: str,
    config=None,
    info: dict | None = None,
    *,
    input_tile: int | None = None,
    embedding_quantization: str | None = None,
    user_inputs: list[str] | None = None,
) -> str:
    """Writes `model` as a SavedModel to `export_dir`, atomically.

    The ``serving_default`` signature takes one [batch] tensor per raw input field
    (named and typed as in `specs`) and returns the model's named outputs
    (``logits_<tower>`` and ``probs_<tower>`` of binary and multiclass towers, ``y_<tower>``
    of regression towers, and derived outputs such as ESMM's ``probs_ctcvr``). The
    effective pipeline config, if given, is saved as assets/pipeline.config, and `info`
    (e.g. the checkpoint exported, see :mod:`easymtl.lifecycle.owner`) as
    assets/export.json. The
    SavedModel is written to a temporary directory beside `export_dir` and renamed into
    place, so no partial export is ever visible.

    Args:
        specs: A ``tf.TensorSpec`` per raw input field, by name.
        config: The pipeline config; its export_config gives the defaults below.
        info: JSON-able facts about the export.
        input_tile: 0, 2 or 3 (export_config.input_tile): the user-side columns hold one
            row per request (2: repeated before the features; 3: their features
            computed once). None: the config's (0 without one).
        embedding_quantization: "INT8", "BF16" or "" (export_config.
            embedding_quantization). None: the config's ("" without one).
        user_inputs: The user-side columns (default: those of the config's features,
            :func:`easymtl.export.options.user_inputs`).

    Returns:
        `export_dir`.
    """
    import tensorflow as tf

    from easymtl.disk import WRITE_ERRORS, write_error
    from easymtl.export.options import user_inputs as user_columns
    from easymtl.export.quantize import quantized_tables

    export = config.export_config if config is not None else None
    if input_tile is None:
        input_tile = export.input_tile if export is not None else 0
    if embedding_quantization is None:
        embedding_quantization = export.embedding_quantization if export is not None else ""
    tiled = ()
    if input_tile:
        if user_inputs is None:
            user_inputs = user_columns(config.feature_configs) if config is not None else []
        tiled = tuple(c for c in user_inputs if c in specs)
        if not tiled:
            log.warning("input_tile %d: no user-side input column; nothing tiled", input_tile)

    @tf.function(input_signature=[specs], autograph=False)
    def serve(inputs):
        if input_tile == 2 and tiled:
            rows = _request_rows(inputs, tiled)
            inputs = {c: tf.repeat(v, rows, axis=0) if c in tiled else v for c, v in inputs.items()}
            return model(inputs, training=False)
        return model(inputs, training=False, tiled_inputs=tiled)

    with quantized_tables(model, embedding_quantization) as copies:
        concrete = serve.get_concrete_function()
    # What the SavedModel holds: the serving function and the tf.Variables it reads, not
    # the Keras model. A Keras 3 variable wraps a tf.Variable, and saving the wrapper
    # writes a second variable into the SavedModel's graph, which the graph's saver
    # restores while the signature reads the first: TF1-style loaders (a graph and a
    # session, as TensorFlow Serving's C++ loader and ``saved_model_cli run``) then fail
    # with "Could not find variable". Tracking the underlying tf.Variables that the
    # function captures, as ``keras.export.ExportArchive`` does, writes each variable once.
    module = tf.Module()
    module.serve = concrete
    module.serving_variables = list(concrete.variables)
    module.quantized_tables = copies
    serving = {
        "input_tile": input_tile,
        "user_inputs": list(tiled),
        "embedding_quantization": embedding_quantization,
    }

    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    # Made as any directory is (mode 0o777 less the umask), not private as mkdtemp's: a
    # model server often runs as another user.
    tmp = os.path.join(parent, f".tmp-export-{uuid.uuid4().hex}")
    os.mkdir(tmp)
    try:
        tf.saved_model.save(module, tmp, signatures={"serving_default": concrete})
        os.makedirs(os.path.join(tmp, "assets"), exist_ok=True)
        if config is not None:
            with open(os.path.join(tmp, "assets", "pipeline.config"), "w") as f:
                f.write(text_format.MessageToString(config))
        if input_tile or embedding_quantization:
            # What a client must know to send a request (TorchEasyRec's model_acc.json).
            with open(os.path.join(tmp, "assets", "serving.json"), "w") as f:
                json.dump(serving, f, indent=2)
        if info is not None:
            with open(os.path.join(tmp, EXPORT_INFO), "w") as f:
                json.dump(info, f, indent=2)
        if os.path.isdir(export_dir) and not os.listdir(export_dir):
            os.rmdir(export_dir)
        os.replace(tmp, export_dir)
    except WRITE_ERRORS as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error("SavedModel export", export_dir, e, "; nothing was exported") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("exported SavedModel to %s", export_dir)
    return export_dir


def _request_rows(inputs: dict, tiled: tuple):
    """[1]: the candidates of a request, the rows of its first column not in `tiled`
    (1 where every column is); each tiled column must hold one row."""
    import tensorflow as tf

    others = [c for c in inputs if c not in tiled]
    for c in tiled:
        tf.debugging.assert_equal(
            tf.shape(inputs[c])[0],
            1,
            message=f"input_tile: the user-side column {c!r} must hold one row",
        )
    return tf.shape(inputs[others[0]])[:1] if others else tf.constant([1])


def timestamped_dir(model_dir: str) -> str:
    """model_dir/export/<unix timestamp>, a new directory name."""
    base = os.path.join(model_dir, "export")
    stamp = int(time.time())
    while os.path.exists(os.path.join(base, str(stamp))):
        stamp += 1
    return os.path.join(base, str(stamp))
