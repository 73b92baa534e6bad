"""The fused ranking score: a product of task predictions and input-field factors."""

from __future__ import annotations

import keras
from keras import ops

TRANSFORMS = ("identity", "log1p", "power")


@keras.saving.register_keras_serializable(package="easymtl")
class FusedScore(keras.layers.Layer):
    """``score = prod_k outputs[name_k] ^ exponent_k  x  prod_j f_j(max(x_j, 0))``.

    Args:
        factors: Exponent of each model output used, by output name (``probs_ctr``).
        clip_outputs: Output names clipped at 0 before the power (regression outputs
            such as a predicted watch time).
        inputs: One dict per raw input factor: ``input_name``, ``transform``
            ("identity", "log1p" or "power") and ``power`` (for "power").

    Call takes the model's outputs and its raw inputs (both dicts of [batch] tensors)
    and returns the [batch] float32 score.

    Example:
        >>> fused = FusedScore({"probs_ctr": 1.0, "probs_cvr": 0.5},
        ...                    inputs=[{"input_name": "len", "transform": "log1p"}])
        >>> outputs = {"probs_ctr": keras.ops.array([0.5]), "probs_cvr": keras.ops.array([0.25])}
        >>> float(fused(outputs, {"len": keras.ops.array([0.0])})[0])  # 0.5 * 0.5 * log(1)
        0.0
    """

    def __init__(
        self,
        factors: dict[str, float],
        clip_outputs: list[str] = (),
        inputs: list[dict] = (),
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not factors and not inputs:
            raise ValueError("`factors` and `inputs` must not both be empty.")
        self.factors = {str(k): float(v) for k, v in factors.items()}
        self.clip_outputs = [str(name) for name in clip_outputs]
        unknown = [name for name in self.clip_outputs if name not in self.factors]
        if unknown:
            raise ValueError(f"`clip_outputs` must name factors. Received: {unknown}")
        self.inputs = []
        for spec in inputs:
            spec = {"transform": "identity", "power": 1.0, **spec}
            if spec["transform"] not in TRANSFORMS:
                raise ValueError(
                    f"`transform` must be one of {TRANSFORMS}. Received: {spec['transform']!r}"
                )
            self.inputs.append(
                {
                    "input_name": str(spec["input_name"]),
                    "transform": spec["transform"],
                    "power": float(spec["power"]),
                }
            )

    @property
    def input_names(self) -> list[str]:
        """The raw input fields the score reads."""
        return [spec["input_name"] for spec in self.inputs]

    def call(self, outputs, inputs):
        score = None
        for name, exponent in self.factors.items():
            p = ops.cast(outputs[name], "float32")
            if name in self.clip_outputs:
                p = ops.maximum(p, 0.0)
            factor = p if exponent == 1.0 else ops.power(p, exponent)
            score = factor if score is None else score * factor
        for spec in self.inputs:
            x = ops.maximum(ops.cast(inputs[spec["input_name"]], "float32"), 0.0)
            if spec["transform"] == "log1p":
                x = ops.log1p(x)
            elif spec["transform"] == "power":
                x = ops.power(x, spec["power"])
            score = x if score is None else score * x
        return score

    def get_config(self):
        return {
            **super().get_config(),
            "factors": self.factors,
            "clip_outputs": self.clip_outputs,
            "inputs": self.inputs,
        }
