"""A task tower: an optional MLP and a linear head producing the task's logits."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.mlp import MLP
from easymtl.towers import output_name

TASK_TYPES = ("binary", "regression", "multiclass")


@keras.saving.register_keras_serializable(package="easymtl")
class TaskTower(keras.layers.Layer):
    """MLP (optional) → Dense(num_class): the logits (or regression values) of one task.

    Args:
        mlp: Keyword arguments of the tower's :class:`MLP`, or None for the head alone.
        num_class: 1 for a binary or regression task (output of shape [batch]), else
            the number of classes (logits [batch, num_class]).
        task_type: "binary", "regression" or "multiclass" (num_class > 1); it names the
            model's outputs for this tower (see :func:`tower_outputs`). Default:
            "multiclass" if num_class > 1, else "binary".

    Example:
        >>> TaskTower({"hidden_units": [8]})(keras.ops.ones((2, 4))).shape
        (2,)
    """

    def __init__(
        self,
        mlp: dict | None = None,
        num_class: int = 1,
        task_type: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_class <= 0:
            raise ValueError(f"`num_class` must be positive. Received: {num_class}")
        task_type = task_type or ("multiclass" if num_class > 1 else "binary")
        if task_type not in TASK_TYPES:
            raise ValueError(f"`task_type` must be one of {TASK_TYPES}. Received: {task_type!r}")
        if (task_type == "multiclass") != (num_class > 1):
            raise ValueError(
                "`num_class` must be more than 1 for a multiclass task and 1 otherwise. "
                f"Received: {num_class} for a {task_type} task"
            )
        self.task_type = task_type
        self.mlp_kwargs = dict(mlp) if mlp else None
        self.num_class = num_class
        self.mlp = MLP(**self.mlp_kwargs, name="mlp") if mlp else None
        self.head = keras.layers.Dense(num_class, name="head")

    def build(self, input_shape):
        shape = tuple(input_shape)
        if self.mlp is not None:
            self.mlp.build(shape)
            shape = self.mlp.compute_output_shape(shape)
        self.head.build(shape)

    def call(self, inputs, training=None):
        x = self.mlp(inputs, training=training) if self.mlp is not None else inputs
        logits = self.head(x)
        return ops.squeeze(logits, axis=-1) if self.num_class == 1 else logits

    def get_config(self):
        return {
            **super().get_config(),
            "mlp": self.mlp_kwargs,
            "num_class": self.num_class,
            "task_type": self.task_type,
        }


def tower_outputs(name: str, logits, task_type: str) -> dict:
    """The model outputs of tower `name` from its TaskTower's output: binary
    ``logits_<name>``, ``probs_<name>`` (sigmoid); multiclass ``logits_<name>``,
    ``probs_<name>`` (softmax over the last axis), and with two classes
    ``probs1_<name>``, the class-1 probability (as TorchEasyRec); regression
    ``y_<name>``. A single-task ranker's task ("") has the names without suffix."""
    if task_type == "regression":
        return {output_name("y", name): logits}
    probs = ops.softmax(logits, axis=-1) if task_type == "multiclass" else ops.sigmoid(logits)
    outputs = {output_name("logits", name): logits, output_name("probs", name): probs}
    if task_type == "multiclass" and logits.shape[-1] == 2:
        outputs[output_name("probs1", name)] = probs[:, 1]
    return outputs
