"""dcn_v1: DCN (Wang et al., ADKDD 2017) on one feature group, TorchEasyRec's DCNV1.
The layers are :class:`easymtl.layers.dcn.DCN` under a linear output without bias
(:class:`easymtl.layers.rank_head.BlockRanker`)."""

from __future__ import annotations

from easymtl.models import MODELS
from easymtl.models.blocks import check_dcn_v1, dcn_v1_kwargs
from easymtl.models.rank import first_group


@MODELS.register(
    "dcn_v1",
    check=check_dcn_v1,
    rank=True,
    inputs=lambda config, where, groups: first_group(groups, "dcn_v1"),
)
def build_dcn_v1(config, groups, num_class: int):
    from easymtl.layers.rank_head import BlockRanker

    block = {"kind": "dcn_v1", **dcn_v1_kwargs(config)}
    group = first_group(groups, "dcn_v1").name
    return BlockRanker(group, block, num_class, use_bias=False, name="dcn_v1")
