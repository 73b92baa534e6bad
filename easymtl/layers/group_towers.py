"""One MLP per feature group, their outputs concatenated (EasyRec's ESMM `groups`,
TorchEasyRec's towers over feature groups)."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.mlp import MLP


@keras.saving.register_keras_serializable(package="easymtl")
class GroupTowers(keras.layers.Layer):
    """Each named feature group through its own MLP; the outputs concatenated in order.

    Args:
        groups: ``(group name, MLP keyword arguments)`` of each tower, in output order.

    Call takes the groups' tensors in the order of :attr:`group_inputs` (the model
    passes them so) and returns [batch, sum of the MLPs' last widths].

    Example:
        >>> towers = GroupTowers([("user", {"hidden_units": [8]}), ("item", {"hidden_units": [4]})])
        >>> towers([keras.ops.ones((2, 3)), keras.ops.ones((2, 5))]).shape
        (2, 12)
    """

    def __init__(self, groups: list, **kwargs):
        super().__init__(**kwargs)
        groups = [(str(name), dict(mlp)) for name, mlp in groups]
        if not groups:
            raise ValueError("`groups` must not be empty.")
        names = [name for name, _ in groups]
        if len(set(names)) != len(names):
            raise ValueError(f"`groups` must name each group once. Received: {names}")
        self.groups = groups
        self.mlps = [MLP(**mlp, name=f"group_{name}") for name, mlp in groups]

    @property
    def group_inputs(self) -> list[str]:
        """The feature groups the layer reads, in the order `call` takes them."""
        return [name for name, _ in self.groups]

    def build(self, input_shape):
        for mlp, shape in zip(self.mlps, input_shape):
            mlp.build(tuple(shape))

    def call(self, inputs, training=None):
        if len(inputs) != len(self.mlps):
            raise ValueError(f"Expected {len(self.mlps)} inputs. Received: {len(inputs)}")
        outputs = [mlp(x, training=training) for mlp, x in zip(self.mlps, inputs)]
        return ops.concatenate(outputs, axis=-1) if len(outputs) > 1 else outputs[0]

    def get_config(self):
        return {**super().get_config(), "groups": [[n, m] for n, m in self.groups]}
