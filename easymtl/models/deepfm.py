"""deepfm: DeepFM (Guo et al., IJCAI 2017), TorchEasyRec's message and meaning.

Groups: "wide" (WIDE: its features' wide embeddings, summed into the logit), "deep"
(DEEP: the deep MLP's input) and optionally "fm" (DEEP: the FM's fields; else "deep"'s
features are the fields). The layer is :class:`easymtl.layers.deepfm.DeepFM`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.models import MODELS, mlp_kwargs
from easymtl.models.rank import (
    WIDE,
    field_dim,
    group_path,
    need_group,
    need_type,
    only_groups,
    wide_initializer,
)


def check_wide_embedding_dim(config, where: str) -> None:
    """The wide embeddings' width and init function (DeepFM, Wide & Deep, xDeepFM)."""
    if config.wide_embedding_dim == 0:
        raise ConfigError(f"{where}.wide_embedding_dim", "must be positive")
    wide_initializer(config.wide_init_fn, f"{where}.wide_init_fn")


def check_wide_deep_groups(groups, kind: str) -> None:
    """The "wide" WIDE group and the "deep" DEEP group (DeepFM, Wide & Deep, xDeepFM)."""
    wide = need_group(groups, "wide", kind, "a WIDE group of the first-order features")
    need_type(wide, WIDE, kind, f"{group_path(groups, 'wide')}.group_type")
    deep = need_group(groups, "deep", kind, "the deep MLP's input")
    need_type(deep, 0, kind, f"{group_path(groups, 'deep')}.group_type")


def check_deepfm_inputs(config, where: str, groups) -> None:
    check_wide_deep_groups(groups, "deepfm")
    fm = "fm" if "fm" in groups else "deep"
    if fm == "fm":
        need_type(groups["fm"], 0, "deepfm", f"{group_path(groups, 'fm')}.group_type")
    field_dim(groups[fm], groups, "deepfm", "the FM's fields")
    only_groups(groups, ["wide", "deep", "fm"], "deepfm", wide_read=True)


@MODELS.register(
    "deepfm",
    check=check_wide_embedding_dim,
    rank=True,
    inputs=check_deepfm_inputs,
    wide_dim=lambda config: config.wide_embedding_dim,
)
def build_deepfm(config, groups, num_class: int):
    """The :class:`~easymtl.layers.deepfm.DeepFM` of a DeepFM message."""
    from easymtl.layers.deepfm import DeepFM

    fm = "fm" if "fm" in groups else "deep"
    return DeepFM(
        deep=mlp_kwargs(config.deep),
        field_dim=groups[fm].widths[0],
        num_class=num_class,
        final=mlp_kwargs(config.final) if config.HasField("final") else None,
        fm_group=fm,
        name="deepfm",
    )
