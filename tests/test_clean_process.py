"""easymtl.testing.clean_process: the process where the tests serve exports as a model
server does runs `saved_model_cli` as a new process would, request after request."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from easymtl.testing import clean_process, serve_both_ways_in_clean_process

pytestmark = pytest.mark.slow  # starts a process (TensorFlow's import): not in the fast lane


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> str:
    """A SavedModel of y = 2x + 1 (no easymtl in it), its 2 a variable."""

    class Affine(tf.Module):
        def __init__(self):
            self.slope = tf.Variable(2.0)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x):
            return {"y": self.slope * x + 1.0}

    path = str(tmp_path_factory.mktemp("affine") / "export")
    module = Affine()
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    return path


def test_saved_model_cli_runs_each_command_as_a_new_process_would(export_dir, monkeypatch):
    run = ["run", "--dir", export_dir, "--tag_set", "serve"]
    for _ in range(2):  # the second run prints all the first did (its log lines too)
        done = clean_process.saved_model_cli(
            *run, "--signature_def", "serving_default", "--input_exprs", "x=[1.0,2.0]"
        )
        assert done.returncode == 0, done.stderr
        assert re.search(r"Result for output key y:\s*\n\[3\. 5\.\]", done.stdout), done.stdout
        assert "Restoring parameters from" in done.stderr, done.stderr
    # show does not require run's flags (--tag_set, --signature_def) ...
    shown = clean_process.saved_model_cli("show", "--dir", export_dir)
    assert shown.returncode == 0 and "'serve'" in shown.stdout, shown.stderr
    # ... and a flag given to the run before is not given to this one.
    missing = clean_process.saved_model_cli(*run, "--input_exprs", "x=[1.0]")
    assert missing.returncode == 2
    assert "--signature_def must have a value other than None" in missing.stderr
    failed = clean_process.saved_model_cli("show", "--dir", export_dir + "_missing")
    assert failed.returncode == 1 and "SavedModel file does not exist" in failed.stderr
    # A relative path is read from this process's working directory.
    monkeypatch.chdir(os.path.dirname(export_dir))
    relative = clean_process.saved_model_cli("show", "--dir", os.path.basename(export_dir))
    assert relative.returncode == 0 and "'serve'" in relative.stdout, relative.stderr


def test_one_process_serves_every_request(export_dir):
    served = serve_both_ways_in_clean_process({"affine": export_dir}, {"x": [0.5]})
    for way in ("saved_model", "session"):
        np.testing.assert_allclose(served["affine"][way]["y"], [2.0])
    pid = clean_process._process.pid
    clean_process.call("load_and_call", export_dir, {"x": [1.0]})
    assert clean_process._process.pid == pid
    with pytest.raises(RuntimeError, match="load_and_call in the clean process failed"):
        clean_process.call("load_and_call", export_dir + "_missing", {"x": [1.0]})
    assert clean_process._process.pid == pid  # a failed request does not end it
