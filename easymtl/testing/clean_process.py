"""A Python process that has imported TensorFlow and never easymtl, kept for the test
process that started it: where the tests load exports as a model server does (without
the Python that built them) and run ``saved_model_cli``'s own code on them.

One process serves every request of a test process: TensorFlow's import (3-4 s of CPU)
is paid once, not per export. Each request loads its export anew (a model server, too,
loads many models in one process); after each, the process checks that no easymtl module
was imported. It inherits the environment of the tests (TF_ENABLE_ONEDNN_OPTS
included), so it computes with the kernels they do.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import tempfile
from typing import Any

_SERVER = r"""
import contextlib, io, json, os, sys, traceback

replies = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # what TensorFlow or a request prints goes to stderr, not into the replies
import tensorflow as tf


def load_and_call(export_dir, raw):
    fn = tf.saved_model.load(export_dir).signatures["serving_default"]
    specs = fn.structured_input_signature[1]
    inputs = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in raw.items()}
    return {k: v.numpy().tolist() for k, v in fn(**inputs).items()}


def both_ways(exports, raw):
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
    return results


def saved_model_cli(argv):
    # The console script's own main, its absl flags as a new process has them: unparsed
    # (a flag a run does not give must not keep the value of the run before) and without
    # the required-flag checks an earlier command added (run's tag_set is not show's).
    from absl import flags
    from tensorflow.python.tools import saved_model_cli as cli

    out, err = io.StringIO(), io.StringIO()
    flags.FLAGS.unparse_flags()
    for name in {n for names in cli.command_required_flags.values() for n in names}:
        if name in flags.FLAGS:
            flags.FLAGS[name].validators = []
    sys.argv = ["saved_model_cli", *argv]
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else int(e.code is not None)
        except Exception:
            traceback.print_exc()
            code = 1
    return {"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


OPS = {"load_and_call": load_and_call, "both_ways": both_ways, "saved_model_cli": saved_model_cli}
for line in sys.stdin:
    request = json.loads(line)
    try:
        reply = {"result": OPS[request["op"]](*request["args"])}
    except Exception:
        reply = {"error": traceback.format_exc()}
    if any(m.startswith("easymtl") for m in sys.modules):
        reply = {"error": "easymtl was imported in the clean process"}
    replies.write(json.dumps(reply) + "\n")
    replies.flush()
"""

_process: subprocess.Popen | None = None
_TIMEOUT = 600  # seconds a request may take


def call(op: str, *args: Any) -> Any:
    """The result of request `op` (load_and_call, both_ways, saved_model_cli) with `args`
    in the clean process, started on first use (again if it died).

    Raises:
        RuntimeError: the request failed there (its traceback), or took over 10 minutes.
    """
    global _process
    if _process is None or _process.poll() is not None:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        _process = subprocess.Popen(
            [sys.executable, "-c", _SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tempfile.gettempdir(),  # not the repository, whose easymtl/ it could import
        )
        atexit.register(_process.kill)
    _process.stdin.write(json.dumps({"op": op, "args": list(args)}) + "\n")
    _process.stdin.flush()
    ready, _, _ = select.select([_process.stdout], [], [], _TIMEOUT)
    line = _process.stdout.readline() if ready else ""
    if not line:
        _process.kill()
        raise RuntimeError(f"the clean process gave no answer to {op} (exit {_process.poll()})")
    reply = json.loads(line)
    if "error" in reply:
        raise RuntimeError(f"{op} in the clean process failed:\n{reply['error']}")
    return reply["result"]


def saved_model_cli(*argv: str) -> subprocess.CompletedProcess:
    """``saved_model_cli <argv>`` (e.g. "run", "--dir", ...) run by the console script's
    own ``main`` in the clean process: its exit status, stdout and stderr."""
    result = call("saved_model_cli", list(argv))
    return subprocess.CompletedProcess(
        ["saved_model_cli", *argv], result["returncode"], result["stdout"], result["stderr"]
    )
