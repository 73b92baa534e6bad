"""The sequence encoders: ENCODERS, a registry from SeqEncoderConfig's ``seq_module``
oneof name to the encoder's builder ``build(sub-message, name) -> layer``, with the facts
validation needs: ``query`` (the encoder attends from query features) and ``check(sub-
message, field path)``. Imports no TensorFlow: each builder imports its layer
(easymtl/layers) when called.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.registry import Registry

ENCODERS = Registry("sequence encoder")


def _mlp(mlp) -> dict:
    return {
        "hidden_units": list(mlp.hidden_units),
        "activation": mlp.activation,
        "dropout_ratio": list(mlp.dropout_ratio),
        "use_bn": mlp.use_bn,
        "use_ln": mlp.use_ln,
        "use_bias": mlp.bias,
    }


def check_pooling_encoder(proto, where: str) -> None:
    if proto.pooling_type not in ("sum", "mean"):
        raise ConfigError(
            f"{where}.pooling_type", f"{proto.pooling_type!r}: expected 'sum' or 'mean'"
        )


def check_multi_window_din_encoder(proto, where: str) -> None:
    if not proto.windows_len:
        raise ConfigError(f"{where}.windows_len", "at least one window is needed")
    if 0 in proto.windows_len:
        raise ConfigError(f"{where}.windows_len", "every window needs at least one position")


@ENCODERS.register("din_encoder", query=True)
def build_din(proto, name: str):
    from easymtl.layers.din import DINEncoder

    return DINEncoder(
        _mlp(proto.attn_mlp), exact_match=proto.exact_match, recency=proto.recency, name=name
    )


@ENCODERS.register("simple_attention", query=True)
def build_simple_attention(proto, name: str):
    from easymtl.layers.simple_attention import SimpleAttention

    return SimpleAttention(name=name)


@ENCODERS.register("pooling_encoder", check=check_pooling_encoder)
def build_pooling(proto, name: str):
    from easymtl.layers.pooling_encoder import PoolingEncoder

    return PoolingEncoder(proto.pooling_type, name=name)


@ENCODERS.register("multi_window_din_encoder", query=True, check=check_multi_window_din_encoder)
def build_multi_window_din(proto, name: str):
    from easymtl.layers.multi_window_din import MultiWindowDINEncoder

    return MultiWindowDINEncoder(_mlp(proto.attn_mlp), list(proto.windows_len), name=name)
