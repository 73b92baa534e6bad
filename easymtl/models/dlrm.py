"""dlrm: DLRM (Naumov et al., 2019), TorchEasyRec's message and meaning.

Groups: "sparse" (or the only group: embeddings of one embedding_dim, the interaction's
fields) and optionally "dense" (DEEP: dense_mlp's input, one more field). The layer is
:class:`easymtl.layers.dlrm.DLRM`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.models import MODELS, mlp_kwargs
from easymtl.models.rank import RANK_PATH, field_dim, need_group, only_groups


def sparse_and_dense(config, where: str, groups, kind: str):
    """(sparse group, dense group or None, field_dim) of DLRM and WuKong: the only
    non-WIDE group is the sparse one; with several, "sparse" and "dense" (TorchEasyRec's
    names). Raises ConfigError where they do not fit dense_mlp."""
    deep = [g for g in groups.values() if not g.is_wide]
    if not deep:
        raise ConfigError(f"{RANK_PATH}.feature_groups", f"{kind} needs a DEEP feature group")
    if len(deep) == 1:
        sparse, dense = deep[0], None
    else:
        sparse = need_group(groups, "sparse", kind, "the embeddings that interact")
        dense = (
            need_group(groups, "dense", kind, "dense_mlp's input") if "dense" in groups else None
        )
    dim = field_dim(sparse, groups, kind, "the interaction's fields")
    if dense is not None and not config.HasField("dense_mlp"):
        raise ConfigError(f"{where}.dense_mlp", f"is needed with the dense group {dense.name!r}")
    if dense is None and config.HasField("dense_mlp"):
        raise ConfigError(
            f"{where}.dense_mlp", f"reads a group named 'dense'; the groups are {', '.join(groups)}"
        )
    if dense is not None and config.dense_mlp.hidden_units[-1] != dim:
        raise ConfigError(
            f"{where}.dense_mlp.hidden_units",
            f"must end with {dim} units, the sparse features' embedding_dim: its output is "
            "one more field",
        )
    only_groups(groups, [sparse.name] + ([dense.name] if dense else []), kind)
    return sparse, dense, dim


def check_dlrm_inputs(config, where: str, groups) -> None:
    sparse_and_dense(config, where, groups, "dlrm")


@MODELS.register("dlrm", rank=True, inputs=check_dlrm_inputs)
def build_dlrm(config, groups, num_class: int):
    """The :class:`~easymtl.layers.dlrm.DLRM` of a DLRM message."""
    from easymtl.layers.dlrm import DLRM

    sparse, dense, dim = sparse_and_dense(config, "model_config.dlrm", groups, "dlrm")
    return DLRM(
        sparse_group=sparse.name,
        field_dim=dim,
        final=mlp_kwargs(config.final),
        num_class=num_class,
        dense_group=dense.name if dense else None,
        dense_mlp=mlp_kwargs(config.dense_mlp) if dense else None,
        arch_with_sparse=config.arch_with_sparse,
        name="dlrm",
    )
