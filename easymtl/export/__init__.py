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
    model, specs: dict, export_dir: str, config=None, info: dict | None = None
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
        info: JSON-able facts about the export.

    Returns:
        `export_dir`.
    """
    import tensorflow as tf

    from easymtl.disk import WRITE_ERRORS, write_error

    @tf.function(input_signature=[specs])
    def serve(inputs):
        return model(inputs, training=False)

    # What the SavedModel holds: the serving function and the tf.Variables it reads, not
    # the Keras model. A Keras 3 variable wraps a tf.Variable, and saving the wrapper
    # writes a second variable into the SavedModel's graph, which the graph's saver
    # restores while the signature reads the first: TF1-style loaders (a graph and a
    # session, as TensorFlow Serving's C++ loader and ``saved_model_cli run``) then fail
    # with "Could not find variable". Tracking the underlying tf.Variables that the
    # function captures, as ``keras.export.ExportArchive`` does, writes each variable once.
    module = tf.Module()
    module.serve = serve
    module.serving_variables = list(serve.get_concrete_function().variables)

    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    # Made as any directory is (mode 0o777 less the umask), not private as mkdtemp's: a
    # model server often runs as another user.
    tmp = os.path.join(parent, f".tmp-export-{uuid.uuid4().hex}")
    os.mkdir(tmp)
    try:
        tf.saved_model.save(module, tmp, signatures={"serving_default": serve})
        if config is not None:
            os.makedirs(os.path.join(tmp, "assets"), exist_ok=True)
            with open(os.path.join(tmp, "assets", "pipeline.config"), "w") as f:
                f.write(text_format.MessageToString(config))
        if info is not None:
            os.makedirs(os.path.join(tmp, "assets"), exist_ok=True)
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


def timestamped_dir(model_dir: str) -> str:
    """model_dir/export/<unix timestamp>, a new directory name."""
    base = os.path.join(model_dir, "export")
    stamp = int(time.time())
    while os.path.exists(os.path.join(base, str(stamp))):
        stamp += 1
    return os.path.join(base, str(stamp))
