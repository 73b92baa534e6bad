"""ple: Progressive Layered Extraction (Tang et al., RecSys 2020); one level is a CGC."""

from easymtl.errors import ConfigError
from easymtl.models import MODELS, mlp_kwargs


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


def check_level(net, where: str) -> None:
    """Raises ConfigError unless the two kinds of expert of a level (an
    ExtractionNetwork, or a CGC) end with the same width."""
    task, shared = net.task_expert_net.hidden_units, net.share_expert_net.hidden_units
    if task and shared and task[-1] != shared[-1]:
        raise ConfigError(
            f"{where}.share_expert_net.hidden_units",
            f"ends with {shared[-1]} units but task_expert_net with {task[-1]}; "
            "one gate mixes both kinds of expert, so their last layers must match",
        )


def check_ple(config, where: str) -> None:
    """Raises ConfigError on a repeated network_name or a level whose experts differ in
    width."""
    path = f"{where}.extraction_networks"
    names = [net.network_name for net in config.extraction_networks]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(
                f"{path}[{i}].network_name",
                f"duplicate network_name {name!r}; gate diagnostics name levels by it",
            )
    for i, net in enumerate(config.extraction_networks):
        check_level(net, f"{path}[{i}]")


@MODELS.register("ple", check=check_ple)
def build_ple(config, num_tasks: int):
    """The :class:`~easymtl.layers.extraction.PLE` of a PLE message."""
    from easymtl.layers.extraction import PLE

    nets = config.extraction_networks
    return PLE(
        num_tasks,
        [level_kwargs(net) for net in nets],
        level_names=[net.network_name for net in nets],
        name="ple",
    )
