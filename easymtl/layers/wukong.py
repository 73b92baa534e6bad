"""WuKong's interaction layers (Zang et al., ICML 2024), as TorchEasyRec builds them."""

from __future__ import annotations

import keras
from keras import ops

from easymtl.layers.dlrm import stack_fields
from easymtl.layers.mlp import MLP


def _kaiming_uniform():
    # PyTorch's nn.init.kaiming_uniform_ default (a=0, fan_in of a [in, out] parameter
    # is its second dimension, as PyTorch reads it): U(+-sqrt(6 / out)).
    return keras.initializers.VarianceScaling(2.0, mode="fan_out", distribution="uniform")


@keras.saving.register_keras_serializable(package="easymtl")
class WuKongLayer(keras.layers.Layer):
    """One WuKong layer over F fields of dimension D:

    - FactorizationMachineBlock: ``X (X^T W)`` ([F, compressed_feature_num], W of
      [F, compressed_feature_num]), flattened, LayerNorm, `feature_num_mlp`, then a Dense
      to fmb_feature_num x D, as fmb_feature_num fields;
    - LinearCompressBlock: lcb_feature_num linear mixes of the fields;
    - both concatenated (FM block first), plus the input (linearly mixed into as many
      fields when F differs), LayerNorm over D.

    Args:
        lcb_feature_num: Fields made by the linear compress block.
        fmb_feature_num: Fields made by the FM block.
        feature_num_mlp: Keyword arguments of the FM block's :class:`MLP`.
        compressed_feature_num: Columns of the FM block's projection W.

    Call takes [batch, F, D] and returns [batch, lcb_feature_num + fmb_feature_num, D].

    Example:
        >>> WuKongLayer(2, 3, {"hidden_units": [8]}, 4)(keras.ops.ones((2, 5, 6))).shape
        (2, 5, 6)
    """

    def __init__(
        self,
        lcb_feature_num: int,
        fmb_feature_num: int,
        feature_num_mlp: dict,
        compressed_feature_num: int = 16,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("lcb_feature_num", lcb_feature_num),
            ("fmb_feature_num", fmb_feature_num),
            ("compressed_feature_num", compressed_feature_num),
        ):
            if value <= 0:
                raise ValueError(f"`{name}` must be positive. Received: {value}")
        self.lcb_feature_num = int(lcb_feature_num)
        self.fmb_feature_num = int(fmb_feature_num)
        self.feature_num_mlp = dict(feature_num_mlp)
        self.compressed_feature_num = int(compressed_feature_num)
        self.mlp = MLP(**self.feature_num_mlp, name="fmb_mlp")

    @property
    def output_fields(self) -> int:
        return self.lcb_feature_num + self.fmb_feature_num

    def build(self, input_shape):
        _, fields, dim = input_shape
        self.dim = dim
        self.lcb = self.add_weight(
            shape=(fields, self.lcb_feature_num), initializer=_kaiming_uniform(), name="lcb"
        )
        self.fmb = self.add_weight(
            shape=(fields, self.compressed_feature_num),
            initializer=_kaiming_uniform(),
            name="fmb",
        )
        flat = fields * self.compressed_feature_num
        self.fmb_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="fmb_ln")
        self.fmb_norm.build((None, flat))
        self.mlp.build((None, flat))
        self.fmb_out = keras.layers.Dense(self.fmb_feature_num * dim, name="fmb_out")
        self.fmb_out.build((None, self.feature_num_mlp["hidden_units"][-1]))
        self.residual = None
        if fields != self.output_fields:
            self.residual = self.add_weight(
                shape=(fields, self.output_fields),
                initializer=_kaiming_uniform(),
                name="residual",
            )
        self.norm = keras.layers.LayerNormalization(epsilon=1e-5, name="ln")
        self.norm.build((None, self.output_fields, dim))

    def call(self, inputs, training=None):
        fields = inputs.shape[1]
        # Linear compress: mix the fields, [batch, lcb, D].
        lcb = ops.einsum("bfd,fo->bod", inputs, self.lcb)
        # Optimized FM: X (X^T W), [batch, F, compressed].
        projected = ops.einsum("bfd,fc->bdc", inputs, self.fmb)
        fm = ops.matmul(inputs, projected)
        fm = ops.reshape(fm, (-1, fields * self.compressed_feature_num))
        fm = self.fmb_out(self.mlp(self.fmb_norm(fm), training=training))
        fmb = ops.reshape(fm, (-1, self.fmb_feature_num, self.dim))
        out = ops.concatenate([fmb, lcb], axis=1)
        residual = inputs
        if self.residual is not None:
            residual = ops.einsum("bfd,fo->bod", inputs, self.residual)
        return self.norm(out + residual)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_fields, input_shape[2])

    def get_config(self):
        return {
            **super().get_config(),
            "lcb_feature_num": self.lcb_feature_num,
            "fmb_feature_num": self.fmb_feature_num,
            "feature_num_mlp": self.feature_num_mlp,
            "compressed_feature_num": self.compressed_feature_num,
        }


@keras.saving.register_keras_serializable(package="easymtl")
class WuKong(keras.layers.Layer):
    """``Linear(final(flatten(WuKongLayers(fields))))``: the fields are
    ``dense_mlp(x_dense)`` (with a dense group) and the sparse group's embeddings.

    Args:
        sparse_group: The group of embeddings (all of `field_dim`).
        field_dim: Their embedding_dim.
        wukong_layers: Keyword arguments of each :class:`WuKongLayer`, bottom to top.
        final: Keyword arguments of the final :class:`MLP`.
        num_class: Outputs.
        dense_group: The dense group, or None.
        dense_mlp: Keyword arguments of its :class:`MLP` (last units `field_dim`).

    Call takes ``{group: tensor}`` and returns ``{"": [batch, num_class]}``.

    Example:
        >>> layers = [{"lcb_feature_num": 2, "fmb_feature_num": 2,
        ...            "feature_num_mlp": {"hidden_units": [4]}}]
        >>> layer = WuKong("sparse", 2, layers, {"hidden_units": [3]})
        >>> layer({"sparse": keras.ops.ones((3, 6))})[""].shape
        (3, 1)
    """

    def __init__(
        self,
        sparse_group: str,
        field_dim: int,
        wukong_layers: list[dict],
        final: dict,
        num_class: int = 1,
        dense_group: str | None = None,
        dense_mlp: dict | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not wukong_layers:
            raise ValueError("`wukong_layers` must not be empty.")
        if (dense_group is None) != (dense_mlp is None):
            raise ValueError("`dense_group` and `dense_mlp` must be given together.")
        if dense_mlp and dense_mlp["hidden_units"][-1] != field_dim:
            raise ValueError(
                f"`dense_mlp` must end with `field_dim` ({field_dim}) units. "
                f"Received: {dense_mlp['hidden_units']}"
            )
        self.sparse_group = sparse_group
        self.field_dim = int(field_dim)
        self.wukong_layers = [dict(w) for w in wukong_layers]
        self.final_mlp = dict(final)
        self.num_class = int(num_class)
        self.dense_group = dense_group
        self.dense_mlp_kwargs = dict(dense_mlp) if dense_mlp else None
        self.dense_mlp = MLP(**self.dense_mlp_kwargs, name="dense_mlp") if dense_mlp else None
        self.layers_stack = [
            WuKongLayer(**w, name=f"wukong_{i}") for i, w in enumerate(self.wukong_layers)
        ]
        self.final = MLP(**self.final_mlp, name="final")
        self.output_layer = keras.layers.Dense(self.num_class, name="output")

    def build(self, input_shape):
        fields = input_shape[self.sparse_group][-1] // self.field_dim
        if self.dense_mlp is not None:
            self.dense_mlp.build(tuple(input_shape[self.dense_group]))
            fields += 1
        shape = (None, fields, self.field_dim)
        for layer in self.layers_stack:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.final.build((None, shape[1] * shape[2]))
        self.output_layer.build((None, self.final_mlp["hidden_units"][-1]))

    def call(self, groups, training=None):
        dense = None
        if self.dense_mlp is not None:
            dense = self.dense_mlp(groups[self.dense_group], training=training)
        x = stack_fields(groups, self.sparse_group, self.field_dim, dense)
        for layer in self.layers_stack:
            x = layer(x, training=training)
        x = ops.reshape(x, (-1, x.shape[1] * x.shape[2]))
        return {"": self.output_layer(self.final(x, training=training))}

    def get_config(self):
        return {
            **super().get_config(),
            "sparse_group": self.sparse_group,
            "field_dim": self.field_dim,
            "wukong_layers": self.wukong_layers,
            "final": self.final_mlp,
            "num_class": self.num_class,
            "dense_group": self.dense_group,
            "dense_mlp": self.dense_mlp_kwargs,
        }
