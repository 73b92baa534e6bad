"""ple: Progressive Layered Extraction (Tang et al., RecSys 2020); one level is a CGC."""

from easymtl.layers.extraction import PLE
from easymtl.models import mlp_kwargs, register_model


def level_kwargs(net) -> dict:
    """Keyword arguments of one :class:`~easymtl.layers.extraction.ExtractionNetwork`
    from a message with its fields (an ExtractionNetwork, or a CGC)."""
    return {
        "expert_num_per_task": net.expert_num_per_task,
        "share_num": net.share_num,
        "task_expert_mlp": mlp_kwargs(net.task_expert_net),
        "share_expert_mlp": mlp_kwargs(
            net.share_expert_net if net.HasField("share_expert_net") else net.task_expert_net
        ),
        "gate_temperature": net.gate_temperature,
        "gate_dropout_ratio": net.gate_dropout_ratio,
    }


@register_model("ple")
def build_ple(config, num_tasks: int) -> PLE:
    nets = config.extraction_networks
    return PLE(
        num_tasks,
        [level_kwargs(net) for net in nets],
        level_names=[net.network_name for net in nets],
        name="ple",
    )
