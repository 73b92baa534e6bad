"""What every command-line entry point shares: flags, logging and error handling."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

# TensorFlow's C++ start-up chatter is not for the user; set before TensorFlow loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the common --config flag."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--config", required=True, help="Pipeline config (.config, .yaml or .json).")
    return p


def load(path: str):
    """Loads and validates a pipeline config (raises EasymtlError)."""
    from easymtl.config import load_config

    return load_config(path)


def run(job: Callable[[], object]) -> int:
    """Runs `job` with logging to stdout; an EasymtlError becomes one line and exit 2."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log = logging.getLogger("easymtl")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    logging.getLogger("absl").setLevel(logging.ERROR)
    from easymtl.errors import EasymtlError

    try:
        job()
    except EasymtlError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    finally:
        log.removeHandler(handler)
    return 0
