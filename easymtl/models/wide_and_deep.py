"""wide_and_deep: Wide & Deep (Cheng et al., 2016), TorchEasyRec's message and meaning.

Groups: "wide" (WIDE: its features' wide embeddings, summed into the logit) and "deep"
(DEEP: the deep MLP's input). The layer is
:class:`easymtl.layers.wide_and_deep.WideAndDeep`.
"""

from __future__ import annotations

from easymtl.models import MODELS, mlp_kwargs
from easymtl.models.deepfm import check_wide_deep_groups, check_wide_embedding_dim
from easymtl.models.rank import only_groups


def check_wide_and_deep_inputs(config, where: str, groups) -> None:
    check_wide_deep_groups(groups, "wide_and_deep")
    only_groups(groups, ["wide", "deep"], "wide_and_deep", wide_read=True)


@MODELS.register(
    "wide_and_deep",
    check=check_wide_embedding_dim,
    rank=True,
    inputs=check_wide_and_deep_inputs,
    wide_dim=lambda config: config.wide_embedding_dim,
)
def build_wide_and_deep(config, groups, num_class: int):
    """The :class:`~easymtl.layers.wide_and_deep.WideAndDeep` of a WideAndDeep message."""
    from easymtl.layers.wide_and_deep import WideAndDeep

    return WideAndDeep(
        deep=mlp_kwargs(config.deep),
        num_class=num_class,
        final=mlp_kwargs(config.final) if config.HasField("final") else None,
        name="wide_and_deep",
    )
