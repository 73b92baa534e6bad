"""mmoe: Multi-gate Mixture-of-Experts (Ma et al., KDD 2018); with share_gate, OMoE.
Each expert is an MLP (expert_mlp) or any block (expert: dcn_v2, mask_net, ...)."""

from easymtl.errors import ConfigError
from easymtl.models import MODELS, mlp_kwargs
from easymtl.models.blocks import block_spec, check_block


def check_experts(config, where: str, mlp: str = "expert_mlp", block: str = "expert") -> None:
    """Raises ConfigError unless exactly one of the expert MLP and the expert block is
    set (or a bad field of the block)."""
    if config.HasField(mlp) == config.HasField(block):
        raise ConfigError(
            f"{where}.{mlp}",
            f"set {mlp} or {block} (any block, e.g. dcn_v2 {{ ... }}), one of them",
        )
    if config.HasField(block):
        check_block(getattr(config, block), f"{where}.{block}")


def expert_spec(config, mlp: str = "expert_mlp", block: str = "expert") -> dict:
    """The experts' layer spec: the block's, or the MLP's keyword arguments."""
    if config.HasField(block):
        return block_spec(getattr(config, block))
    return mlp_kwargs(getattr(config, mlp))


@MODELS.register("mmoe", check=check_experts)
def build_mmoe(config, num_tasks: int):
    """The :class:`~easymtl.layers.mmoe.MMoE` of an MMoE message."""
    from easymtl.layers.mmoe import MMoE

    return MMoE(
        num_tasks=num_tasks,
        num_expert=config.num_expert,
        expert_mlp=expert_spec(config),
        gate_mlp=mlp_kwargs(config.gate_mlp) if config.HasField("gate_mlp") else None,
        share_gate=config.share_gate,
        gate_temperature=config.gate_temperature,
        gate_dropout_ratio=config.gate_dropout_ratio,
        name="mmoe",
    )
