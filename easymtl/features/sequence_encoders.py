"""Builders of the sequence encoders: a SeqEncoderConfig oneof member → its Keras layer
(easymtl/layers), by oneof name."""

from __future__ import annotations

from collections.abc import Callable

from easymtl.layers.din import DINEncoder
from easymtl.layers.multi_window_din import MultiWindowDINEncoder
from easymtl.layers.pooling_encoder import PoolingEncoder
from easymtl.layers.simple_attention import SimpleAttention

# SeqEncoderConfig oneof name -> builder(sub-message, name) -> layer(query, sequence, mask)
ENCODERS: dict[str, Callable] = {}


def register_encoder(name: str) -> Callable:
    """Registers a builder for the `name` entry of SeqEncoderConfig's oneof."""

    def wrap(builder: Callable) -> Callable:
        ENCODERS[name] = builder
        return builder

    return wrap


def _mlp(mlp) -> dict:
    return {
        "hidden_units": list(mlp.hidden_units),
        "activation": mlp.activation,
        "dropout_ratio": list(mlp.dropout_ratio),
        "use_bn": mlp.use_bn,
        "use_ln": mlp.use_ln,
        "use_bias": mlp.bias,
    }


@register_encoder("din_encoder")
def build_din(proto, name: str) -> DINEncoder:
    return DINEncoder(_mlp(proto.attn_mlp), name=name)


@register_encoder("simple_attention")
def build_simple_attention(proto, name: str) -> SimpleAttention:
    return SimpleAttention(name=name)


@register_encoder("pooling_encoder")
def build_pooling(proto, name: str) -> PoolingEncoder:
    return PoolingEncoder(proto.pooling_type, name=name)


@register_encoder("multi_window_din_encoder")
def build_multi_window_din(proto, name: str) -> MultiWindowDINEncoder:
    return MultiWindowDINEncoder(_mlp(proto.attn_mlp), list(proto.windows_len), name=name)
