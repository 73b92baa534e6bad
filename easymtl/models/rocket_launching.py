"""rocket_launching: Rocket Launching (Zhou et al., AAAI 2018), TorchEasyRec's
RocketLaunching: a light net learns the label and the booster net's logits. Its task is
named "light" (outputs logits_light, probs_light; metrics auc_light); the booster's
outputs exist in training only. The layer is
:class:`easymtl.layers.rocket_launching.RocketLaunching`, its task
:class:`~easymtl.layers.rocket_launching.RocketTask`."""

from __future__ import annotations

from easymtl.models import MODELS, mlp_kwargs
from easymtl.models.rank import first_group


def build_rocket_tasks(config, tower, where: str) -> list:
    """The light net's RocketTask, from the ranker's implicit tower (named "light")."""
    from easymtl.layers.rocket_launching import distillation_pairs, rocket_task
    from easymtl.protos import rank_model_pb2
    from easymtl.tasks import build_task

    similarity = ""
    if config.feature_based_distillation:
        similarity = rank_model_pb2.Similarity.Name(config.feature_distillation_function)
    pairs = distillation_pairs(config.light_mlp.hidden_units, config.booster_mlp.hidden_units)
    return [rocket_task(build_task(tower, where), similarity, pairs)]


@MODELS.register(
    "rocket_launching",
    rank=True,
    tower_name="light",
    tasks=build_rocket_tasks,
    inputs=lambda config, where, groups: first_group(groups, "rocket_launching"),
)
def build_rocket_launching(config, groups, num_class: int):
    """The :class:`~easymtl.layers.rocket_launching.RocketLaunching` of its message."""
    from easymtl.layers.rocket_launching import RocketLaunching

    return RocketLaunching(
        group=first_group(groups, "rocket_launching").name,
        booster_mlp=mlp_kwargs(config.booster_mlp),
        light_mlp=mlp_kwargs(config.light_mlp),
        num_class=num_class,
        share_mlp=mlp_kwargs(config.share_mlp) if config.HasField("share_mlp") else None,
        feature_based_distillation=config.feature_based_distillation,
        name="rocket_launching",
    )
