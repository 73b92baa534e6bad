"""What an easymtl export records about itself (assets/export.json: the global step
and checkpoint it holds), and the exports of a checkpoint found by it. No TensorFlow."""

from __future__ import annotations

import json
import os

# What an easymtl export records about itself, in its assets directory.
EXPORT_INFO = os.path.join("assets", "export.json")


def export_info(step: int) -> dict:
    """What an export of the checkpoint of global `step` records (see :data:`EXPORT_INFO`)."""
    return {"global_step": step, "checkpoint": f"model.ckpt-{step}"}


def exported_step(export_dir: str) -> int | None:
    """The global step of the checkpoint an easymtl export holds, if it recorded one."""
    try:
        with open(os.path.join(export_dir, EXPORT_INFO)) as f:
            return int(json.load(f)["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def exported(base: str, step: int) -> str | None:
    """The newest export under `base` (its numbered directories) of the checkpoint of
    global `step`, if there is one."""
    if not os.path.isdir(base):
        return None
    names = [n for n in os.listdir(base) if n.isdigit()]
    for name in sorted(names, key=int, reverse=True):
        if exported_step(os.path.join(base, name)) == step:
            return os.path.join(base, name)
    return None
