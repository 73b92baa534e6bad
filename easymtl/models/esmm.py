"""esmm: Entire Space Multi-task Model (Ma et al., SIGIR 2018).

A CTR tower and a CVR tower over the shared embeddings; pCTCVR = pCTR × pCVR. The CTR
tower learns the click over all impressions, and the CVR tower is learned only through
pCTCVR against click × conversion, also over all impressions: no sample-selection bias
(the CVR model is trained where it is used) and no sparsity (it borrows the CTR data).
The Keras model and the CVR task are in :mod:`easymtl.models.esmm_model`.
"""

from __future__ import annotations

from easymtl.errors import ConfigError
from easymtl.losses import BINARY
from easymtl.models import MODELS, metric_names, mlp_kwargs
from easymtl.registry import lazy
from easymtl.towers import tower_task_type

# ESMM's derived output: probs_ctcvr, logits_ctcvr.
CTCVR = "ctcvr"
_SPACE_FIELDS = (
    "task_space_indicator_label",
    "average_over_task_space",
    "metrics_over_task_space",
)


def check_esmm(config, where: str) -> None:
    """Raises ConfigError on a tower that is not binary, sets a sample space of its own,
    or is named "ctcvr"."""
    for name in ("ctr_tower", "cvr_tower"):
        tower, path = getattr(config, name), f"{where}.{name}"
        task_type = tower_task_type(tower, path)
        if task_type != BINARY:
            raise ConfigError(
                f"{path}.losses",
                f"ESMM's towers are binary (pCTCVR = pCTR x pCVR); got {task_type} losses",
            )
        for space in _SPACE_FIELDS:
            if tower.HasField(space):
                raise ConfigError(
                    f"{path}.{space}",
                    "ESMM learns both towers over all impressions and scores the CVR tower on "
                    "clicked impressions by itself; leave the sample space unset",
                )
        if tower.tower_name == CTCVR:
            raise ConfigError(f"{path}.tower_name", f"{CTCVR!r} names ESMM's derived output")


def esmm_result_names(config) -> dict[str, list[str]]:
    """The CVR tower's metrics also score probs_ctcvr, reported after its own."""
    return {config.cvr_tower.tower_name: metric_names(config.cvr_tower.metrics, CTCVR)}


@MODELS.register(
    "esmm",
    check=check_esmm,
    tasks=lazy("easymtl.models.esmm_model:build_esmm_tasks"),
    model=lazy("easymtl.models.esmm_model:ESMM"),
    result_names=esmm_result_names,
)
def build_esmm(config, num_tasks: int):
    """EasyRec's `groups` (an MLP per feature group, concatenated), or None: the towers
    read the feature groups directly."""
    if not config.groups:
        return None
    from easymtl.layers.group_towers import GroupTowers

    return GroupTowers([(g.input, mlp_kwargs(g.mlp)) for g in config.groups], name="groups")
