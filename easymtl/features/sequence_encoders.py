"""Builders of the sequence encoders: a SeqEncoderConfig oneof member → its Keras layer
(easymtl/layers), each registered in
:data:`~easymtl.features.sequence_config.ENCODERS` by oneof name and imported when the
model is built."""

from __future__ import annotations

from easymtl.layers.din import DINEncoder
from easymtl.layers.multi_window_din import MultiWindowDINEncoder
from easymtl.layers.pooling_encoder import PoolingEncoder
from easymtl.layers.simple_attention import SimpleAttention


def _mlp(mlp) -> dict:
    return {
        "hidden_units": list(mlp.hidden_units),
        "activation": mlp.activation,
        "dropout_ratio": list(mlp.dropout_ratio),
        "use_bn": mlp.use_bn,
        "use_ln": mlp.use_ln,
        "use_bias": mlp.bias,
    }


def build_din(proto, name: str) -> DINEncoder:
    return DINEncoder(
        _mlp(proto.attn_mlp), exact_match=proto.exact_match, recency=proto.recency, name=name
    )


def build_simple_attention(proto, name: str) -> SimpleAttention:
    return SimpleAttention(name=name)


def build_pooling(proto, name: str) -> PoolingEncoder:
    return PoolingEncoder(proto.pooling_type, name=name)


def build_multi_window_din(proto, name: str) -> MultiWindowDINEncoder:
    return MultiWindowDINEncoder(_mlp(proto.attn_mlp), list(proto.windows_len), name=name)
