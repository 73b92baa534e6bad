"""What every command-line entry point shares: flags, config overrides, logging and
error handling."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Callable

# TensorFlow's C++ INFO and WARNING logs are not for the user; set before TensorFlow
# loads. (It does not silence the start-up lines that import_tensorflow holds back.)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The lines TensorFlow's C++ side writes to stderr while it is imported, some whatever
# TF_CPP_MIN_LOG_LEVEL says (absl logs them before its log level is set): absl's notice,
# oneDNN's "custom operations are on" (port.cc) and the CPU feature guard's two lines.
_STARTUP_CHATTER = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR|[IW]\d{4} [\d:.]+ +\d+ (port|cpu_feature_guard)\.cc:\d+\] .*"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate "
    r"compiler flags\."
)

_SHORTCUTS = ("model_dir", "train_input_path", "eval_input_path")
_NAME = r"[A-Za-z_]\w*(?:\[[^\]]*\])?"
_DOTTED = re.compile(rf"^--({_NAME}(?:\.{_NAME})+)(?:=(.*))?$", re.S)
_OVERRIDES_HELP = """\
Any config field can also be set with a dotted flag, --<message>.<field>=<value>
(or a separate value), applied after --edit_config_json, e.g.
  --train_config.num_steps=20
  --data_config.batch_size 128
  '--model_config.ple.task_towers[1].weight=2'
  '--feature_configs[feature_name=price].raw_feature.embedding_dim=8'
See docs/quickstart.md, section 8."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that also takes dotted config flags (``--data_config.batch_size=8``)
    and reports errors as one ``error: ...`` line with exit status 2."""

    def parse_args(self, args=None, namespace=None):
        argv = sys.argv[1:] if args is None else list(args)
        args, rest = self.parse_known_args(argv, namespace)
        args.command = (
            f"{self.prog} {shlex.join(map(str, argv))}"  # as run, for model_dir/train.log
        )
        args.overrides = []
        if args.edit_config_json:
            # Parsed by load(), where a bad value is one error line like any config error.
            args.overrides.append(("--edit_config_json", args.edit_config_json))
        i = 0
        while i < len(rest):
            match = _DOTTED.match(rest[i])
            if not match:
                self.error(f"unrecognized argument {rest[i]!r}")
            path, value = match.groups()
            if value is None:
                if i + 1 >= len(rest):
                    self.error(f"--{path} needs a value")
                i += 1
                value = rest[i]
            args.overrides.append((f"--{path}", {path: value}))
            i += 1
        shortcuts = {k: v for k in _SHORTCUTS if (v := getattr(args, k, None)) is not None}
        if shortcuts:
            args.overrides.append(("--" + "/--".join(shortcuts), shortcuts))
        return args

    def error(self, message):
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def parser(
    description: str,
    module: str | None = None,
    config_required: bool = True,
    shortcuts: bool = True,
) -> argparse.ArgumentParser:
    """An argument parser with --config and the config-override flags.

    Any config field can be set with a dotted flag (``--train_config.num_steps=10``) or
    ``--edit_config_json '{"data_config.batch_size": 256}'``; `--model_dir`,
    `--train_input_path` and `--eval_input_path` are shortcuts (left out with
    ``shortcuts=False``, for a command that reads none of them). Parsed args carry
    ``overrides``, which :func:`load` applies.

    Args:
        description: What the command does, for ``--help``.
        module: The command's module (``easymtl.train``): usage reads
            ``python -m easymtl.train``, or ``easymtl-train`` when run as the installed
            command. Default: argparse's (the script's name).
        config_required: Whether --config must be given.
        shortcuts: Whether to offer the --model_dir / --*_input_path shortcuts.
    """
    p = _Parser(
        prog=_prog(module) if module else None,
        description=description,
        epilog=_OVERRIDES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--config", required=config_required, help="Pipeline config (.config, .yaml or .json)."
    )
    p.add_argument(
        "--edit_config_json",
        help='Config edits as JSON: {"field.path": value, ...}, e.g. '
        '{"train_config.num_steps": 10, "feature_configs[feature_name=price].'
        'raw_feature.embedding_dim": 8}.',
    )
    for name in _SHORTCUTS if shortcuts else ():
        p.add_argument(f"--{name}", help=f"Set the config's {name}.")
    return p


def _prog(module: str) -> str:
    """``easymtl-train`` when run as that installed command, else ``python -m <module>``."""
    command = "easymtl-" + module.split(".")[1]
    return command if os.path.basename(sys.argv[0]) == command else f"python -m {module}"


def load(args: argparse.Namespace, path: str | None = None):
    """Loads the config at `path` (default: ``args.config``), applies the overrides of
    `args` and validates it (raises EasymtlError)."""
    from easymtl.config import load_config
    from easymtl.overrides import parse_json

    overrides = [
        (source, parse_json(edits, source) if isinstance(edits, str) else edits)
        for source, edits in getattr(args, "overrides", [])
    ]
    return load_config(path or args.config, overrides)


def import_tensorflow() -> None:
    """Imports TensorFlow with the C++ start-up lines it writes to stderr held back.

    Every entry point calls this once its flags and config are checked, before the work
    that needs TensorFlow. File descriptor 2 points at a temporary file during the
    import (the lines come from C++, past Python's sys.stderr); afterwards every line
    that is not known start-up chatter is written to stderr again.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode("utf-8", "replace").splitlines()
            rest = [line for line in lines if not _STARTUP_CHATTER.fullmatch(line)]
            if rest:
                print("\n".join(rest), file=sys.stderr)


def task_name() -> str | None:
    """This process's task in a TF_CONFIG cluster of more than one task (``worker 1``,
    ``chief 0``, ``ps 0``), which prefixes its log lines; None outside one. Read from the
    environment, without TensorFlow (an unreadable TF_CONFIG is the cluster's to report)."""
    try:
        tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        tasks = sum(len(v) for v in tf_config.get("cluster", {}).values())
        task = tf_config["task"]
        return f"{task['type']} {int(task.get('index', 0))}" if tasks > 1 else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def run(job: Callable[[], object]) -> int:
    """Runs `job` with logging to stdout; an EasymtlError becomes one line and exit 2."""
    handler = logging.StreamHandler(sys.stdout)
    task = task_name()
    prefix = f"[{task}] " if task else ""
    handler.setFormatter(logging.Formatter(f"%(asctime)s {prefix}%(levelname)s %(message)s"))
    log = logging.getLogger("easymtl")
    log.addHandler(handler)
    level, propagate = log.level, log.propagate
    log.setLevel(logging.INFO)
    log.propagate = False  # one copy of each line, whatever handlers the root has
    logging.getLogger("absl").setLevel(logging.ERROR)
    from easymtl.errors import EasymtlError
    from easymtl.run_guard import Interrupted

    try:
        job()
    except Interrupted as e:
        print(f"error: {e}", file=sys.stderr)
        return 128 + e.signum
    except EasymtlError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    finally:  # as it was: a caller's own logging (a test's caplog) sees easymtl again
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate
    return 0
