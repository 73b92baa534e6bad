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
import itertools
import json
import os
import select
import subprocess
import sys
import tempfile
import threading
from typing import Any

_SERVER = r"""
import json, os, sys, tempfile, traceback

sys.path = [p for p in sys.path if p not in ("", os.getcwd())]  # requests chdir
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
    # Its output is taken at the file descriptors, so that every line it prints is there:
    # print's, the log handlers' (bound to the streams when they were made), C++'s.
    from absl import flags
    from tensorflow.python.tools import saved_model_cli as cli

    flags.FLAGS.unparse_flags()
    for name in {n for names in cli.command_required_flags.values() for n in names}:
        if name in flags.FLAGS:
            flags.FLAGS[name].validators = []
    sys.argv = ["saved_model_cli", *argv]
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        code = 0
        try:
            cli.main()
        except SystemExit as e:
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
            code = e.code & 0xFF if isinstance(e.code, int) else int(e.code is not None)
        except Exception:
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        printed = []
        for f in (out, err):
            f.seek(0)
            printed.append(f.read().decode(errors="replace"))
    return {"returncode": code, "stdout": printed[0], "stderr": printed[1]}


OPS = {"load_and_call": load_and_call, "both_ways": both_ways, "saved_model_cli": saved_model_cli}
for line in sys.stdin:
    request = json.loads(line)
    try:
        os.chdir(request["cwd"])  # the caller's: relative paths mean what they mean there
        reply = {"result": OPS[request["op"]](*request["args"])}
    except Exception:
        reply = {"error": traceback.format_exc()}
    if any(m.startswith("easymtl") for m in sys.modules):
        reply = {"error": "easymtl was imported in the clean process"}
    reply["id"] = request["id"]
    replies.write(json.dumps(reply) + "\n")
    replies.flush()
"""

_process: subprocess.Popen | None = None
_requests = itertools.count()
_lock = threading.Lock()


def call(op: str, *args: Any, timeout: float = 900) -> Any:
    """The result of request `op` (load_and_call, both_ways, saved_model_cli) with `args`,
    run in the clean process in this process's working directory; the process is started
    on first use (again if it died).

    Raises:
        RuntimeError: the request failed there (its traceback), or took over `timeout`
            seconds (the process is then ended, and the next request starts another).
    """
    global _process
    with _lock:
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
            atexit.register(_end, _process)
        request = {"id": next(_requests), "op": op, "args": list(args), "cwd": os.getcwd()}
        try:
            _process.stdin.write(json.dumps(request) + "\n")
            _process.stdin.flush()
            ready, _, _ = select.select([_process.stdout], [], [], timeout)
            line = _process.stdout.readline() if ready else ""
        except BaseException:  # an interrupted request must not leave its reply behind
            _end(_process)
            raise
        if not line:
            _end(_process)
            raise RuntimeError(
                f"the clean process gave no answer to {op} within {timeout:g}s "
                f"(exit status {_process.returncode})"
            )
    reply = json.loads(line)
    if reply.get("id") != request["id"]:
        raise RuntimeError(f"the clean process answered request {reply.get('id')}, not {op}")
    if "error" in reply:
        raise RuntimeError(f"{op} in the clean process failed:\n{reply['error']}")
    return reply["result"]


def _end(process: subprocess.Popen) -> None:
    process.kill()
    process.wait(timeout=10)


def saved_model_cli(*argv: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``saved_model_cli <argv>`` (e.g. "run", "--dir", ...) run by the console script's
    own ``main`` in the clean process, in this process's working directory: its exit
    status, and all it printed to stdout and stderr."""
    result = call("saved_model_cli", list(argv), timeout=timeout)
    return subprocess.CompletedProcess(
        ["saved_model_cli", *argv], result["returncode"], result["stdout"], result["stderr"]
    )
