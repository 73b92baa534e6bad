"""dcn_v2: DCN-V2 (Wang et al., WWW 2021) on one feature group, TorchEasyRec's DCNV2.
The layers are :class:`easymtl.layers.dcn.DCNV2` under a linear output without bias
(:class:`easymtl.layers.rank_head.BlockRanker`)."""

from __future__ import annotations

from easymtl.models import MODELS
from easymtl.models.blocks import check_dcn_v2, dcn_v2_kwargs
from easymtl.models.rank import first_group


@MODELS.register(
    "dcn_v2",
    check=check_dcn_v2,
    rank=True,
    inputs=lambda config, where, groups: first_group(groups, "dcn_v2"),
)
def build_dcn_v2(config, groups, num_class: int):
    from easymtl.layers.rank_head import BlockRanker

    block = {"kind": "dcn_v2", **dcn_v2_kwargs(config)}
    group = first_group(groups, "dcn_v2").name
    return BlockRanker(group, block, num_class, use_bias=False, name="dcn_v2")
