"""wukong: WuKong (Zang et al., ICML 2024), TorchEasyRec's message and meaning.

Groups as DLRM's: "sparse" (or the only group) and optionally "dense". The layers are
:class:`easymtl.layers.wukong.WuKong` and :class:`~easymtl.layers.wukong.WuKongLayer`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.models import MODELS, mlp_kwargs
from easymtl.models.dlrm import sparse_and_dense


def wukong_layer_kwargs(layer) -> dict:
    """Keyword arguments of a :class:`~easymtl.layers.wukong.WuKongLayer`."""
    return {
        "lcb_feature_num": layer.lcb_feature_num,
        "fmb_feature_num": layer.fmb_feature_num,
        "feature_num_mlp": mlp_kwargs(layer.feature_num_mlp),
        "compressed_feature_num": layer.compressed_feature_num,
    }


def check_wukong_layers(layers, where: str) -> None:
    if not layers:
        raise ConfigError(where, "at least one WuKong layer is needed")
    for i, layer in enumerate(layers):
        for name in ("lcb_feature_num", "fmb_feature_num", "compressed_feature_num"):
            if getattr(layer, name) == 0:
                raise ConfigError(f"{where}[{i}].{name}", "must be positive")


def check_wukong(config, where: str) -> None:
    check_wukong_layers(config.wukong_layers, f"{where}.wukong_layers")


def check_wukong_inputs(config, where: str, groups) -> None:
    sparse_and_dense(config, where, groups, "wukong")


@MODELS.register("wukong", check=check_wukong, rank=True, inputs=check_wukong_inputs)
def build_wukong(config, groups, num_class: int):
    """The :class:`~easymtl.layers.wukong.WuKong` of a WuKong message."""
    from easymtl.layers.wukong import WuKong

    sparse, dense, dim = sparse_and_dense(config, "model_config.wukong", groups, "wukong")
    return WuKong(
        sparse_group=sparse.name,
        field_dim=dim,
        wukong_layers=[wukong_layer_kwargs(w) for w in config.wukong_layers],
        final=mlp_kwargs(config.final),
        num_class=num_class,
        dense_group=dense.name if dense else None,
        dense_mlp=mlp_kwargs(config.dense_mlp) if dense else None,
        name="wukong",
    )
