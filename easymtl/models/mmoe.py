"""mmoe: Multi-gate Mixture-of-Experts (Ma et al., KDD 2018); with share_gate, OMoE."""

from easymtl.models import MODELS, mlp_kwargs


@MODELS.register("mmoe")
def build_mmoe(config, num_tasks: int):
    """The :class:`~easymtl.layers.mmoe.MMoE` of an MMoE message."""
    from easymtl.layers.mmoe import MMoE

    return MMoE(
        num_tasks=num_tasks,
        num_expert=config.num_expert,
        expert_mlp=mlp_kwargs(config.expert_mlp),
        gate_mlp=mlp_kwargs(config.gate_mlp) if config.HasField("gate_mlp") else None,
        share_gate=config.share_gate,
        gate_temperature=config.gate_temperature,
        gate_dropout_ratio=config.gate_dropout_ratio,
        name="mmoe",
    )
