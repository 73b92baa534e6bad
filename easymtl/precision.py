"""train_config.mixed_precision (TorchEasyRec's): the dense part of the model computes in
bfloat16 where the hardware has it.

With ``mixed_precision: "BF16"`` the backbone and the task towers are built under Keras's
``mixed_bfloat16`` policy: their variables stay float32 and their matmuls run in
bfloat16; the feature layer (embedding lookups, raw values) stays float32, and each
tower's logits are cast back to float32 before the outputs, losses and metrics (as
TorchEasyRec autocasts the forward pass and keeps its parameters in float32). The export
computes the same way. Where neither a GPU of compute capability 8.0 or more nor a CPU
with bfloat16 instructions (``avx512_bf16`` or ``amx_bf16``) is there, and for ``"FP16"``
(which needs loss scaling, not here yet), the model trains in float32 and one info line
says so.
"""

from __future__ import annotations

import contextlib
import logging
import os

log = logging.getLogger("easymtl")

# TorchEasyRec's mixed_precision values and the Keras policy of each.
POLICIES = {"BF16": "mixed_bfloat16", "FP16": "mixed_float16"}


def check_mixed_precision(value: str, where: str = "train_config.mixed_precision") -> None:
    """Raises ConfigError unless `value` is "", "BF16" or "FP16" (TorchEasyRec's)."""
    from easymtl.errors import ConfigError

    if value and value not in POLICIES:
        raise ConfigError(where, f"{value!r} is not a precision; expected 'BF16' or 'FP16'")


def bf16_hardware() -> str | None:
    """What computes bfloat16 fast here: a GPU of compute capability >= 8.0 or a CPU with
    avx512_bf16 / amx_bf16 (its description), else None."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        major, _ = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
        if major >= 8:
            return f"GPU {gpu.name} (compute capability {major}.x)"
    flags = set()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags.update(line.split(":", 1)[1].split())
                    break
    found = sorted(flags & {"avx512_bf16", "amx_bf16"})
    return f"CPU with {', '.join(found)}" if found else None


def policy_name(mixed_precision: str) -> str | None:
    """The Keras policy the dense layers get for `mixed_precision`, or None (float32),
    after one info line saying which and why."""
    if not mixed_precision:
        return None
    if mixed_precision == "FP16":
        log.info("mixed_precision FP16: not supported yet (needs loss scaling); float32")
        return None
    hardware = bf16_hardware()
    if hardware is None:
        log.info("mixed_precision BF16: no bfloat16 hardware (GPU >= 8.0, avx512_bf16 or "
                 "amx_bf16 CPU) here; float32")  # fmt: skip
        return None
    log.info("mixed_precision BF16: backbone and towers compute in bfloat16 on the %s", hardware)
    return POLICIES[mixed_precision]


@contextlib.contextmanager
def dtype_policy(name: str | None):
    """Layers made inside get the Keras dtype policy `name` (None: unchanged)."""
    if name is None:
        yield
        return
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
