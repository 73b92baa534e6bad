"""mask_net: MaskNet (Wang et al., DLP-KDD 2021) on one feature group, TorchEasyRec's
MaskNet. The layers are :class:`easymtl.layers.masknet.MaskNet` under a linear output
without bias (:class:`easymtl.layers.rank_head.BlockRanker`)."""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.models import MODELS
from easymtl.models.blocks import check_mask_net_module, mask_net_kwargs
from easymtl.models.rank import first_group


def check_mask_net(config, where: str) -> None:
    check_mask_net_module(config.mask_net_module, f"{where}.mask_net_module")
    if not config.mask_net_module.HasField("top_mlp"):
        raise ConfigError(
            f"{where}.mask_net_module.top_mlp",
            "is needed by the mask_net ranker (its output reads top_mlp's, as TorchEasyRec's)",
        )


@MODELS.register(
    "mask_net",
    check=check_mask_net,
    rank=True,
    inputs=lambda config, where, groups: first_group(groups, "mask_net"),
)
def build_mask_net(config, groups, num_class: int):
    from easymtl.layers.rank_head import BlockRanker

    block = {"kind": "mask_net", **mask_net_kwargs(config.mask_net_module)}
    group = first_group(groups, "mask_net").name
    return BlockRanker(group, block, num_class, use_bias=False, name="mask_net")
