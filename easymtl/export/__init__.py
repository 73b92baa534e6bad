"""Export: the trained model as a SavedModel whose serving signature takes raw columns."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time

import tensorflow as tf
from google.protobuf import text_format

from easymtl.disk import WRITE_ERRORS, write_error

log = logging.getLogger("easymtl")


class _Serving(tf.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model


def export_saved_model(model, specs: dict[str, tf.TensorSpec], export_dir: str, config=None) -> str:
    """Writes `model` as a SavedModel to `export_dir`, atomically.

    The ``serving_default`` signature takes one [batch] tensor per raw input field
    (named and typed as in `specs`) and returns the model's named outputs
    (``logits_<tower>`` and ``probs_<tower>`` of binary and multiclass towers, ``y_<tower>``
    of regression towers, and derived outputs such as ESMM's ``probs_ctcvr``). The
    effective pipeline config, if given, is saved as assets/pipeline.config. The
    SavedModel is written to a temporary directory beside `export_dir` and renamed into
    place, so no partial export is ever visible.

    Returns:
        `export_dir`.
    """
    module = _Serving(model)

    @tf.function(input_signature=[specs])
    def serve(inputs):
        return model(inputs, training=False)

    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-export-", dir=parent)
    try:
        tf.saved_model.save(module, tmp, signatures={"serving_default": serve})
        if config is not None:
            os.makedirs(os.path.join(tmp, "assets"), exist_ok=True)
            with open(os.path.join(tmp, "assets", "pipeline.config"), "w") as f:
                f.write(text_format.MessageToString(config))
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
