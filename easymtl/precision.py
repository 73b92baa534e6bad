"""train_config.mixed_precision (TorchEasyRec's): the dense part of the model computes in
bfloat16 or float16 where the hardware has it.

With ``mixed_precision: "BF16"`` (or ``"FP16"``) the backbone and the task towers are
built under Keras's ``mixed_bfloat16`` (``mixed_float16``) policy: their variables stay
float32 and their matmuls run in the lower precision; the feature layer (embedding
lookups, raw values) stays float32, and each tower's logits are cast back to float32
before the outputs, losses and metrics (as TorchEasyRec autocasts the forward pass and
keeps its parameters in float32). The export computes the same way. float16's narrow
range needs loss scaling: the train step scales the loss by
:class:`easymtl.trainer.loss_scale.LossScale` (train_config.grad_scaler). Where the
hardware lacks the precision (BF16: a GPU of compute capability 8.0 or more, a CPU with
``avx512_bf16`` or ``amx_bf16``; FP16: a GPU of compute capability 7.0 or more, never a
CPU), the model trains in float32 and one info line says so. FP16 on a CPU, even one
with ``avx512_fp16`` and ``amx_fp16``, trained the sample MMoE 110 times slower than
float32 with TensorFlow 2.21's CPU kernels (docs/performance.md, "Mixed precision and
gradient accumulation"), so a CPU never counts as FP16 hardware.
"""

from __future__ import annotations

import contextlib
import logging
import os

log = logging.getLogger("easymtl")

# TorchEasyRec's mixed_precision values and the Keras policy of each.
POLICIES = {"BF16": "mixed_bfloat16", "FP16": "mixed_float16"}
# What computes each fast: the least GPU compute capability, the CPU flags (none for
# FP16: measured 110x slower than float32 on an avx512_fp16 / amx_fp16 CPU).
HARDWARE = {
    "BF16": (8, {"avx512_bf16", "amx_bf16"}),
    "FP16": (7, set()),
}


def check_mixed_precision(value: str, where: str = "train_config.mixed_precision") -> None:
    """Raises ConfigError unless `value` is "", "BF16" or "FP16" (TorchEasyRec's)."""
    from easymtl.errors import ConfigError

    if value and value not in POLICIES:
        raise ConfigError(where, f"{value!r} is not a precision; expected 'BF16' or 'FP16'")


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    flags: set[str] = set()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags.update(line.split(":", 1)[1].split())
                    break
    return flags


def precision_hardware(mixed_precision: str) -> str | None:
    """What computes `mixed_precision` ("BF16" or "FP16") fast here: a GPU of the
    least compute capability or a CPU with the instructions (its description), else
    None."""
    import tensorflow as tf

    least, wanted = HARDWARE[mixed_precision]
    for gpu in tf.config.list_physical_devices("GPU"):
        major, _ = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
        if major >= least:
            return f"GPU {gpu.name} (compute capability {major}.x)"
    found = sorted(cpu_flags() & wanted)
    return f"CPU with {', '.join(found)}" if found else None


def bf16_hardware() -> str | None:
    """What computes bfloat16 fast here (:func:`precision_hardware` of "BF16")."""
    return precision_hardware("BF16")


def policy_name(mixed_precision: str) -> str | None:
    """The Keras policy the dense layers get for `mixed_precision`, or None (float32),
    after one info line saying which and why."""
    if not mixed_precision:
        return None
    hardware = precision_hardware(mixed_precision)
    dtype = {"BF16": "bfloat16", "FP16": "float16"}[mixed_precision]
    if hardware is None:
        least, flags = HARDWARE[mixed_precision]
        cpu = f"{' or '.join(sorted(flags))} CPU" if flags else "no CPU"
        log.info(
            "mixed_precision %s: no %s hardware (GPU >= %d.0, %s) here; float32",
            mixed_precision,
            dtype,
            least,
            cpu,
        )
        return None
    log.info(
        "mixed_precision %s: backbone and towers compute in %s on the %s",
        mixed_precision,
        dtype,
        hardware,
    )
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
