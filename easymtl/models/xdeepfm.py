"""xdeepfm: xDeepFM (Lian et al., KDD 2018), TorchEasyRec's message and meaning.

Groups: "wide" (WIDE: its features' wide embeddings, wide_embedding_dim each, are the
CIN's fields) and "deep" (DEEP: the deep MLP's input). The layer is
:class:`easymtl.layers.xdeepfm.XDeepFM`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.models import MODELS, mlp_kwargs
from easymtl.models.deepfm import check_wide_deep_groups, check_wide_embedding_dim
from easymtl.models.rank import only_groups


def check_xdeepfm(config, where: str) -> None:
    check_wide_embedding_dim(config, where)
    check_cin(config.cin, f"{where}.cin")


def check_cin(cin, where: str) -> None:
    if not cin.cin_layer_size:
        raise ConfigError(f"{where}.cin_layer_size", "needs at least one layer")
    if 0 in cin.cin_layer_size:
        raise ConfigError(f"{where}.cin_layer_size", "every layer needs at least one feature map")


def check_xdeepfm_inputs(config, where: str, groups) -> None:
    check_wide_deep_groups(groups, "xdeepfm")
    only_groups(groups, ["wide", "deep"], "xdeepfm", wide_read=True)


@MODELS.register(
    "xdeepfm",
    check=check_xdeepfm,
    rank=True,
    inputs=check_xdeepfm_inputs,
    wide_dim=lambda config: config.wide_embedding_dim,
    wide_fields=True,
)
def build_xdeepfm(config, groups, num_class: int):
    """The :class:`~easymtl.layers.xdeepfm.XDeepFM` of an xDeepFM message."""
    from easymtl.layers.xdeepfm import XDeepFM

    return XDeepFM(
        cin_layer_size=list(config.cin.cin_layer_size),
        deep=mlp_kwargs(config.deep),
        final=mlp_kwargs(config.final),
        field_dim=config.wide_embedding_dim,
        num_class=num_class,
        name="xdeepfm",
    )
