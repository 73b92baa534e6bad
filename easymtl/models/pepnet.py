"""pepnet: PEPNet (Chang et al., KDD 2023), TorchEasyRec's ``pepnet`` model.

The feature groups are read by name, as in TorchEasyRec: "all" (the main features,
required), "domain" (EPNet: a gate of the domain features scales the main features) and
"uia" (PPNet: gates of the user/item/author features scale each hidden layer of each
task's MLP). With ``domain_input_name`` each task has ``task_domain_num`` towers and a
row's losses and metrics read the tower of its domain. The computation is in
:mod:`easymtl.layers.pepnet`, the Keras model in :mod:`easymtl.models.pepnet_model`.
"""

from __future__ import annotations

from easymtl.activations import activation_name
from easymtl.errors import ConfigError
from easymtl.models import MODELS
from easymtl.registry import lazy


def check_pepnet(config, where: str) -> None:
    """Raises ConfigError on PPNet options that do not fit together."""
    units = list(config.ppnet_hidden_units)
    if 0 in units:
        raise ConfigError(f"{where}.ppnet_hidden_units", "every layer needs at least one unit")
    ratios = list(config.ppnet_dropout_ratio)
    if len(ratios) not in (0, 1, len(units)):
        raise ConfigError(
            f"{where}.ppnet_dropout_ratio", "give one value, or one per ppnet_hidden_units layer"
        )
    if any(not 0 <= r < 1 for r in ratios):
        raise ConfigError(f"{where}.ppnet_dropout_ratio", "each value must be in [0, 1)")
    try:
        activation_name(config.ppnet_activation)
    except ValueError as e:
        raise ConfigError(f"{where}.ppnet_activation", str(e)) from None
    if config.HasField("epnet_hidden_unit") and config.epnet_hidden_unit == 0:
        raise ConfigError(f"{where}.epnet_hidden_unit", "must be positive")
    if config.task_domain_num == 0:
        raise ConfigError(f"{where}.task_domain_num", "must be positive")


def check_pepnet_groups(model_config, data_config) -> None:
    """The checks that need the feature groups and data: the "all" group, PPNet's
    hidden units where a "uia" group is, and the domain column."""
    config, where = model_config.pepnet, "model_config.pepnet"
    groups = {g.group_name for g in model_config.feature_groups}
    if "all" not in groups:
        raise ConfigError(
            "model_config.feature_groups",
            'pepnet reads the feature group "all" (and "domain", "uia" where given)',
        )
    if "uia" in groups and not config.ppnet_hidden_units:
        raise ConfigError(f"{where}.ppnet_hidden_units", 'is needed with a "uia" feature group')
    if config.HasField("domain_input_name"):
        fields = {f.input_name for f in data_config.input_fields}
        if config.domain_input_name not in fields:
            raise ConfigError(
                f"{where}.domain_input_name",
                f"{config.domain_input_name!r} is not one of data_config.input_fields",
            )


@MODELS.register(
    "pepnet",
    check=check_pepnet,
    model=lazy("easymtl.models.pepnet_model:build_pepnet_model"),
    check_config=check_pepnet_groups,
)
def build_pepnet(config, num_tasks: int):
    """The :class:`~easymtl.layers.pepnet.PEPNet` of a PEPNet message; the model factory
    turns EPNet and PPNet on by the feature groups there are."""
    from easymtl.layers.pepnet import PEPNet

    layer = PEPNet(
        num_tasks,
        ppnet_hidden_units=list(config.ppnet_hidden_units),
        ppnet_activation=config.ppnet_activation,
        ppnet_dropout_ratio=list(config.ppnet_dropout_ratio),
        epnet_hidden_unit=(
            config.epnet_hidden_unit if config.HasField("epnet_hidden_unit") else None
        ),
        epnet_gamma=config.epnet_gamma,
        ppnet_gamma=config.ppnet_gamma,
        name="pepnet",
    )
    domain = config.domain_input_name if config.HasField("domain_input_name") else None
    layer.domain_input_name = domain
    layer.task_domain_num = config.task_domain_num
    return layer
