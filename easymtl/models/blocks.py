"""The config side of blocks (protos/block.proto): a ``Block`` message's layer spec and
its checks, without TensorFlow. A block is what a multi-task model's expert or bottom
may be (MMoE's `expert`, SharedBottom's `bottom`, ...): an MLP or a ranker's interaction
network; :func:`easymtl.layers.blocks.make_block` builds its layer.

Adding a block: its message in protos/block.proto's ``Block`` oneof, its layer in
easymtl/layers/ (known to layers/blocks.py), and one ``BLOCKS.register`` below.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.registry import Registry

BLOCKS = Registry("block")


def _mlp(mlp) -> dict:
    from easymtl.models import mlp_kwargs

    return mlp_kwargs(mlp)


def block_spec(block) -> dict:
    """The layer spec (``{"kind": ..., **arguments}``) of a Block message."""
    kind = block.WhichOneof("block")
    return {"kind": kind, **BLOCKS[kind](getattr(block, kind))}


def check_block(block, where: str) -> None:
    """Raises ConfigError on an empty Block or a bad field of its block."""
    kind = block.WhichOneof("block")
    if kind is None:
        raise ConfigError(
            where, f"expected one of {', '.join(BLOCKS.names())}, e.g. dcn_v2 {{ ... }}"
        )
    check = BLOCKS.entry(kind).check
    if check is not None:
        check(getattr(block, kind), f"{where}.{kind}")


def mask_net_kwargs(module) -> dict:
    """Keyword arguments of :class:`easymtl.layers.masknet.MaskNet` of a MaskNetModule."""
    block = module.mask_block
    return {
        "n_mask_blocks": module.n_mask_blocks,
        "mask_block": {
            "hidden_dim": block.hidden_dim,
            "reduction_ratio": block.reduction_ratio,
            "aggregation_dim": block.aggregation_dim,
        },
        "top_mlp": _mlp(module.top_mlp) if module.HasField("top_mlp") else None,
        "use_parallel": module.use_parallel,
    }


def check_mask_net_module(module, where: str) -> None:
    if module.n_mask_blocks == 0:
        raise ConfigError(f"{where}.n_mask_blocks", "must be positive")
    block = module.mask_block
    if block.hidden_dim == 0:
        raise ConfigError(f"{where}.mask_block.hidden_dim", "must be positive")
    if block.reduction_ratio < 0:
        raise ConfigError(f"{where}.mask_block.reduction_ratio", "must not be negative")
    if not block.reduction_ratio and not block.aggregation_dim:
        raise ConfigError(
            f"{where}.mask_block.aggregation_dim",
            "is needed where reduction_ratio is 0 (the mask MLP's hidden width)",
        )


def dcn_v1_kwargs(config) -> dict:
    return {
        "cross_num": config.cross.cross_num,
        "deep": _mlp(config.deep),
        "final": _mlp(config.final),
    }


def check_dcn_v1(config, where: str) -> None:
    if config.cross.cross_num == 0:
        raise ConfigError(f"{where}.cross.cross_num", "must be positive")


def dcn_v2_kwargs(config) -> dict:
    return {
        "cross_num": config.cross.cross_num,
        "low_rank": config.cross.low_rank,
        "final": _mlp(config.final),
        "backbone": _mlp(config.backbone) if config.HasField("backbone") else None,
        "deep": _mlp(config.deep) if config.HasField("deep") else None,
    }


def check_dcn_v2(config, where: str) -> None:
    for name in ("cross_num", "low_rank"):
        if getattr(config.cross, name) == 0:
            raise ConfigError(f"{where}.cross.{name}", "must be positive")


def _field_dim(config, where: str) -> None:
    if config.field_dim == 0:
        raise ConfigError(f"{where}.field_dim", "must be positive")


def check_cin_block(config, where: str) -> None:
    from easymtl.models.xdeepfm import check_cin

    _field_dim(config, where)
    check_cin(config.cin, f"{where}.cin")


def check_wukong_block(config, where: str) -> None:
    from easymtl.models.wukong import check_wukong_layers

    _field_dim(config, where)
    check_wukong_layers(config.wukong_layers, f"{where}.wukong_layers")


def _wukong(config) -> dict:
    from easymtl.models.wukong import wukong_layer_kwargs

    return {
        "field_dim": config.field_dim,
        "wukong_layers": [wukong_layer_kwargs(w) for w in config.wukong_layers],
    }


BLOCKS.register("mlp", _mlp)
BLOCKS.register("mask_net", mask_net_kwargs, check=check_mask_net_module)
BLOCKS.register("dcn_v1", dcn_v1_kwargs, check=check_dcn_v1)
BLOCKS.register("dcn_v2", dcn_v2_kwargs, check=check_dcn_v2)
BLOCKS.register("fm", lambda c: {"field_dim": c.field_dim}, check=_field_dim)
BLOCKS.register(
    "cin",
    lambda c: {"field_dim": c.field_dim, "cin_layer_size": list(c.cin.cin_layer_size)},
    check=check_cin_block,
)
BLOCKS.register("dot_interaction", lambda c: {"field_dim": c.field_dim}, check=_field_dim)
BLOCKS.register("wukong", _wukong, check=check_wukong_block)


def check_blocks_inputs(model_config, feature_configs) -> None:
    """The checks of the model's field blocks against its input's features: the model's
    DEEP groups' features, whose widths must each be the block's field_dim (where known
    from the config)."""
    from easymtl.models.rank import group_infos

    kind = model_config.WhichOneof("model")
    msg = getattr(model_config, kind)
    fields = [f for f in msg.DESCRIPTOR.fields if f.message_type and f.message_type.name == "Block"]
    if not fields:
        return
    groups = [g for g in group_infos(model_config, feature_configs).values() if not g.is_wide]
    names = [n for g in groups for n in g.features]
    widths = [w for g in groups for w in g.widths]
    for field in fields:
        if msg.HasField(field.name):
            block = getattr(msg, field.name)
            check_field_widths(block, f"model_config.{kind}.{field.name}", widths, names)


def check_field_widths(block, where: str, widths: list[int | None], names: list[str]) -> None:
    """A field block (fm, cin, dot_interaction, wukong) reads the model's input as fields
    of field_dim: ConfigError naming the first feature whose width is known and is not
    field_dim."""
    kind = block.WhichOneof("block")
    if kind not in ("fm", "cin", "dot_interaction", "wukong"):
        return
    dim = getattr(block, kind).field_dim
    for name, width in zip(names, widths):
        if width is not None and width != dim:
            raise ConfigError(
                f"{where}.{kind}.field_dim",
                f"is {dim}, but feature {name!r} of the model's input is {width} wide; a "
                f"{kind} block reads the input as fields of field_dim: embed every feature "
                "with embedding_dim = field_dim",
            )
