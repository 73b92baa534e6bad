"""DLRM (Naumov et al., 2019), as TorchEasyRec computes it."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.dot_interaction import DotInteraction
from easymtl.layers.mlp import MLP


def stack_fields(groups: dict, sparse_group: str, field_dim: int, dense=None):
    """[batch, fields, field_dim]: the dense MLP's output (if any) as the first field,
    then the sparse group's embeddings."""
    x = groups[sparse_group]
    fields = ops.reshape(x, (-1, x.shape[-1] // field_dim, field_dim))
    if dense is None:
        return fields
    return ops.concatenate([ops.expand_dims(dense, 1), fields], axis=1)


@keras.saving.register_keras_serializable(package="easymtl")
class DLRM(keras.layers.Layer):
    """``Linear(final([DotInteraction(fields), dense, sparse]))``: the fields are
    ``dense_mlp(x_dense)`` (with a dense group) and the sparse group's embeddings; the
    final MLP also reads the dense MLP's output and, with `arch_with_sparse`, the sparse
    embeddings.

    Args:
        sparse_group: The group of embeddings (all of `field_dim`).
        field_dim: Their embedding_dim.
        final: Keyword arguments of the final :class:`MLP`.
        num_class: Outputs.
        dense_group: The dense group, or None.
        dense_mlp: Keyword arguments of its :class:`MLP` (last units `field_dim`).
        arch_with_sparse: Also feed the sparse embeddings to `final`.

    Call takes ``{group: tensor}`` and returns ``{"": [batch, num_class]}``.

    Example:
        >>> layer = DLRM("sparse", 2, {"hidden_units": [4]})
        >>> layer({"sparse": keras.ops.ones((3, 6))})[""].shape
        (3, 1)
    """

    def __init__(
        self,
        sparse_group: str,
        field_dim: int,
        final: dict,
        num_class: int = 1,
        dense_group: str | None = None,
        dense_mlp: dict | None = None,
        arch_with_sparse: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (dense_group is None) != (dense_mlp is None):
            raise ValueError("`dense_group` and `dense_mlp` must be given together.")
        if dense_mlp and dense_mlp["hidden_units"][-1] != field_dim:
            raise ValueError(
                f"`dense_mlp` must end with `field_dim` ({field_dim}) units. "
                f"Received: {dense_mlp['hidden_units']}"
            )
        self.sparse_group = sparse_group
        self.field_dim = int(field_dim)
        self.final_mlp = dict(final)
        self.num_class = int(num_class)
        self.dense_group = dense_group
        self.dense_mlp_kwargs = dict(dense_mlp) if dense_mlp else None
        self.arch_with_sparse = bool(arch_with_sparse)
        self.dense_mlp = MLP(**self.dense_mlp_kwargs, name="dense_mlp") if dense_mlp else None
        self.interaction = DotInteraction(name="interaction")
        self.final = MLP(**self.final_mlp, name="final")
        self.output_layer = keras.layers.Dense(self.num_class, name="output")

    def build(self, input_shape):
        sparse = input_shape[self.sparse_group][-1]
        fields = sparse // self.field_dim + (self.dense_mlp is not None)
        if self.dense_mlp is not None:
            self.dense_mlp.build(tuple(input_shape[self.dense_group]))
        self.interaction.build((None, fields, self.field_dim))
        width = fields * (fields - 1) // 2
        width += self.field_dim if self.dense_mlp is not None else 0
        width += sparse if self.arch_with_sparse else 0
        self.final.build((None, width))
        self.output_layer.build((None, self.final_mlp["hidden_units"][-1]))

    def call(self, groups, training=None):
        dense = None
        if self.dense_mlp is not None:
            dense = self.dense_mlp(groups[self.dense_group], training=training)
        parts = [self.interaction(stack_fields(groups, self.sparse_group, self.field_dim, dense))]
        if dense is not None:
            parts.append(dense)
        if self.arch_with_sparse:
            parts.append(groups[self.sparse_group])
        x = ops.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]
        return {"": self.output_layer(self.final(x, training=training))}

    def get_config(self):
        return {
            **super().get_config(),
            "sparse_group": self.sparse_group,
            "field_dim": self.field_dim,
            "final": self.final_mlp,
            "num_class": self.num_class,
            "dense_group": self.dense_group,
            "dense_mlp": self.dense_mlp_kwargs,
            "arch_with_sparse": self.arch_with_sparse,
        }
