"""The architectures that `python -m easymtl.compare` trains on one config's towers.

Each is the config's model_config with its `model` oneof rewritten: the same feature
groups and task towers, and blocks sized after the config's own (see :func:`block_sizes`).
The multi-task architectures are the models registry's (:data:`easymtl.models.MODELS`,
alphabetically, OMoE beside MMoE), each derived by its function in :data:`DERIVE` (ESMM
from a click → conversion pair), but those :data:`NOT_COMPARED` names with its reason;
tests/test_compare.py fails when a registered model is in none.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from google.protobuf import text_format

from easymtl.errors import ConfigError, EasymtlError
from easymtl.models import MODELS, check_model, task_towers
from easymtl.protos import model_pb2, module_pb2, tower_pb2

log = logging.getLogger("easymtl")

SINGLE_TASK = "single_task"
# Architectures derived from a click → conversion pair of towers (see _esmm).
FROM_PAIR = ("esmm",)
# Registered models that are no row of the table, and why.
NOT_COMPARED = {
    "simple_multi_task": "its towers share only the embeddings: the table asks what "
    "shared networks add to single_task's separate models",
    "pepnet": 'it reads its feature groups by name ("all", and "domain" and "uia" '
    "for its gates), which another config's groups do not have: its personalisation "
    "needs its own grouping of the features",
    "dc2vr": "its towers are InterventionTaskTowers (intervention_tower_names, "
    "low_rank_dim), which another config's towers do not carry",
}
# The single-task rankers (deepfm, dcn_v2, ...): one label each, no towers to share.
NOT_COMPARED.update(
    {
        name: "a single-task ranker: the table compares architectures that share networks "
        "between towers"
        for name in MODELS.names()
        if MODELS.entry(name).rank
    }
)


@dataclass
class Run:
    """One model to train: a row of the table (or, for single_task, part of one).

    Args:
        row: The table row it fills, e.g. "mmoe" or "single_task".
        name: Its directory under output_dir/runs, e.g. "mmoe" or "single_task_ctr".
        model_config: The ModelConfig to train.
        columns: table column → the eval result key that fills it.
    """

    row: str
    name: str
    model_config: model_pb2.ModelConfig
    columns: dict[str, str] = field(default_factory=dict)


@dataclass
class BlockSizes:
    """The sizes the derived architectures take from the config's model.

    Args:
        expert_mlp: Each expert's MLP (also the shared bottom and the single-task bottom).
        num_expert: Experts of MMoE / OMoE; CGC and PLE get one per task and the rest
            (at least one) shared.
        gate_mlp: MMoE's gate MLP, or None.
    """

    expert_mlp: module_pb2.MLP
    num_expert: int
    gate_mlp: module_pb2.MLP | None = None


def model_name(model_config) -> str:
    """The architecture of a ModelConfig: its oneof name, or "omoe" for a shared gate."""
    kind = model_config.WhichOneof("model")
    if kind == "mmoe" and model_config.mmoe.share_gate:
        return "omoe"
    return kind


def tower_columns(tower) -> list[str]:
    """The table columns of a TaskTower: ``<metric>_<tower>``, or ``loss_<tower>``."""
    names = [f"{m.WhichOneof('metric')}_{tower.tower_name}" for m in tower.metrics]
    return names or [f"loss_{tower.tower_name}"]


def block_sizes(model_config) -> BlockSizes:
    """The expert MLP, number of experts and gate MLP of the config's model.

    MMoE: its own. Shared-bottom: the bottom MLP, one expert per task plus one. PLE/CGC:
    the first level's task expert MLP and its number of experts. Models without experts
    (simple_multi_task, esmm): the first tower's MLP.

    Raises:
        EasymtlError: the model has no MLP to size experts after.
    """
    kind = model_config.WhichOneof("model")
    msg = getattr(model_config, kind)
    towers = task_towers(model_config)
    default_num = len(towers) + 1
    if kind == "mmoe":
        gate = msg.gate_mlp if msg.HasField("gate_mlp") else None
        return BlockSizes(msg.expert_mlp, msg.num_expert, gate)
    if kind == "shared_bottom":
        return BlockSizes(msg.bottom_mlp, default_num)
    level = msg
    if kind == "ple" and msg.extraction_networks:
        level = msg.extraction_networks[0]
    elif "extraction_network" in msg.DESCRIPTOR.fields_by_name:
        level = msg.extraction_network
    if "task_expert_net" in level.DESCRIPTOR.fields_by_name and level.HasField("task_expert_net"):
        num = len(towers) * level.expert_num_per_task + level.share_num
        return BlockSizes(level.task_expert_net, num)
    for tower in towers:
        if tower.HasField("mlp"):
            return BlockSizes(tower.mlp, default_num)
    raise EasymtlError(
        f"model_config.{kind}: no expert, bottom or tower MLP to size the other architectures "
        "after; give a tower an mlp"
    )


def multi_task_names() -> list[str]:
    """The multi-task architectures, in table order: the models registry's names in
    alphabetical order, OMoE (MMoE with one gate for all tasks) just before MMoE."""
    names = []
    for name in sorted(MODELS.names()):
        if name in DERIVE or name in FROM_PAIR:
            names += ["omoe", name] if name == "mmoe" else [name]
    return names


def architectures(
    model_config, click_conversion: tuple[str, str] | None = None, only: list[str] | None = None
) -> list[Run]:
    """The runs of a comparison: the config's own model, the other multi-task
    architectures that fit its towers (:func:`multi_task_names`; one whose model check
    refuses the towers is left out, as AITM with a regression tower), and one
    single-task model per tower.

    Args:
        model_config: The config's ModelConfig.
        click_conversion: Tower names (click, conversion) where the conversion label
            implies the click label; ESMM is then one of the architectures.
        only: Architecture names to keep (SINGLE_TASK included), or None for all.

    Raises:
        EasymtlError: an unknown name in `only`.
    """
    own = model_name(model_config)
    known = [SINGLE_TASK, *dict.fromkeys([own, *multi_task_names()])]
    for name in only or []:
        if name not in known:
            raise EasymtlError(f"--architectures: unknown {name!r}; expected some of {known}")
    towers = _towers(model_config)
    sizes = block_sizes(model_config)
    runs = [_single_task(model_config, t, sizes) for t in towers]
    columns = {c: c for t in towers for c in tower_columns(t)}
    runs.append(Run(own, own, copy.deepcopy(model_config), columns))
    for name in multi_task_names():
        if name == own or (only and name not in only):
            continue
        if name == "esmm":
            if click_conversion is not None:
                runs.append(_esmm(model_config, towers, click_conversion))
            continue
        derived = _derive(model_config, name, towers, sizes)
        if derived is not None:
            runs.append(Run(name, name, derived, columns))
    if only:
        runs = [r for r in runs if r.row in only]
    return runs


def _single_task(model_config, tower, sizes: BlockSizes) -> Run:
    """A shared-bottom model with this tower alone: the shared-bottom row's network
    trained on one task."""
    config = _base(model_config)
    config.shared_bottom.bottom_mlp.CopyFrom(sizes.expert_mlp)
    config.shared_bottom.task_towers.add().CopyFrom(tower)
    columns = {c: c for c in tower_columns(tower)}
    return Run(SINGLE_TASK, f"{SINGLE_TASK}_{tower.tower_name}", config, columns)


def _derive(model_config, name: str, towers, sizes: BlockSizes):
    """`model_config` with its model replaced by a `name` block of `sizes`, or None
    where the block cannot be filled or the model's check refuses it."""
    config = _base(model_config)
    DERIVE[name](config, towers, sizes)
    if not config.IsInitialized():
        return None
    try:
        check_model(config)
    except ConfigError as e:
        log.info("compare: %s left out: %s", name, e)
        return None
    return config


# name → fills the ModelConfig's `name` block (its towers included) from the sizes.
DERIVE: dict[str, Callable] = {}


def _derives(*names: str):
    def add(fn):
        for name in names:
            DERIVE[name] = fn
        return fn

    return add


def _shared_num(towers, sizes: BlockSizes) -> int:
    return max(1, sizes.num_expert - len(towers))


@_derives("shared_bottom")
def _shared_bottom(config, towers, sizes: BlockSizes) -> None:
    config.shared_bottom.bottom_mlp.CopyFrom(sizes.expert_mlp)
    config.shared_bottom.task_towers.extend(towers)


@_derives("mmoe")
def _mmoe(config, towers, sizes: BlockSizes, share_gate: bool = False) -> None:
    msg = config.mmoe
    msg.expert_mlp.CopyFrom(sizes.expert_mlp)
    msg.num_expert = sizes.num_expert
    if sizes.gate_mlp is not None:
        msg.gate_mlp.CopyFrom(sizes.gate_mlp)
    msg.share_gate = share_gate
    msg.task_towers.extend(towers)


DERIVE["omoe"] = lambda config, towers, sizes: _mmoe(config, towers, sizes, share_gate=True)


@_derives("cgc")
def _cgc(config, towers, sizes: BlockSizes) -> None:
    msg = config.cgc
    msg.expert_num_per_task, msg.share_num = 1, _shared_num(towers, sizes)
    msg.task_expert_net.CopyFrom(sizes.expert_mlp)
    msg.task_towers.extend(towers)


@_derives("ple")
def _ple(config, towers, sizes: BlockSizes) -> None:
    # Two levels (one level is CGC): the expert MLP, then its last layer again.
    msg = config.ple
    units = list(sizes.expert_mlp.hidden_units)
    for i, level_units in enumerate([units, units[-1:]]):
        level = msg.extraction_networks.add(network_name=f"level{i + 1}")
        level.expert_num_per_task, level.share_num = 1, _shared_num(towers, sizes)
        level.task_expert_net.CopyFrom(sizes.expert_mlp)
        level.task_expert_net.ClearField("hidden_units")
        level.task_expert_net.hidden_units.extend(level_units)
    msg.task_towers.extend(towers)


@_derives("dbmtl")
def _dbmtl(config, towers, sizes: BlockSizes) -> None:
    # MMoE of the same experts, each tower after the first also taking in the one
    # before it (DBMTL's Bayesian chain of tasks), combined by an MLP of its width.
    msg = config.dbmtl
    msg.expert_mlp.CopyFrom(sizes.expert_mlp)
    msg.num_expert = sizes.num_expert
    if sizes.gate_mlp is not None:
        msg.gate_mlp.CopyFrom(sizes.gate_mlp)
    for i, tower in enumerate(towers):
        bayes = text_format.Parse(text_format.MessageToString(tower), msg.task_towers.add())
        if i:
            bayes.relation_tower_names.append(towers[i - 1].tower_name)
            width = tower.mlp.hidden_units[-1:] if tower.HasField("mlp") else []
            bayes.relation_mlp.hidden_units.extend(width or sizes.expert_mlp.hidden_units[-1:])


@_derives("aitm")
def _aitm(config, towers, sizes: BlockSizes) -> None:
    # The towers in their order as the funnel (click, then conversion), with their own
    # mlps as AITM's tower networks; its defaults for the rest.
    del sizes
    config.aitm.task_towers.extend(towers)


def _esmm(model_config, towers, click_conversion: tuple[str, str]) -> Run:
    """ESMM on the click and conversion towers (its own architecture: shared embeddings
    and the two towers). Its conversion column is its CVR metric where the config's
    conversion tower is scored on clicked rows, else its CTCVR metric (all rows)."""
    by_name = {t.tower_name: t for t in towers}
    click, conversion = (by_name[n] for n in click_conversion)
    config = _base(model_config)
    config.esmm.ctr_tower.CopyFrom(_plain(click))
    config.esmm.cvr_tower.CopyFrom(_plain(conversion))
    columns = {c: c for c in tower_columns(click)}
    on_clicks = (
        conversion.task_space_indicator_label == click.label_name
        and conversion.metrics_over_task_space
    )
    for c in tower_columns(conversion):
        metric = c[: -len(conversion.tower_name)]
        columns[c] = c if on_clicks else f"{metric}ctcvr"
    return Run("esmm", "esmm", config, columns)


def _towers(model_config) -> list:
    """The towers of the derived architectures: the config's, except that ESMM's CVR
    tower becomes a conventional CVR tower (learned and scored on clicked rows)."""
    towers = [plain_task_tower(t) for t in task_towers(model_config)]
    if model_name(model_config) == "esmm":
        click, conversion = towers
        conversion.task_space_indicator_label = click.label_name
        conversion.out_task_space_weight = 0.0
        conversion.average_over_task_space = True
        conversion.metrics_over_task_space = True
    return towers


def plain_task_tower(tower) -> tower_pb2.TaskTower:
    """A TaskTower copy of `tower`: a BayesTaskTower (DBMTL's) without its relation to the
    other towers, which only DBMTL has."""
    bare = copy.deepcopy(tower)
    plain = set(tower_pb2.TaskTower.DESCRIPTOR.fields_by_name)
    for name in set(bare.DESCRIPTOR.fields_by_name) - plain:
        bare.ClearField(name)
    return text_format.Parse(text_format.MessageToString(bare), tower_pb2.TaskTower())


def _base(model_config) -> model_pb2.ModelConfig:
    """A ModelConfig with the feature groups of `model_config` and no model."""
    config = model_pb2.ModelConfig()
    config.feature_groups.extend(model_config.feature_groups)
    return config


def _plain(tower):
    """A copy of a tower without a sample space, as ESMM's towers are (they learn from
    every row)."""
    tower = copy.deepcopy(tower)
    for name in _SPACE_FIELDS:
        tower.ClearField(name)
    return tower


_SPACE_FIELDS = (
    "task_space_indicator_label",
    "in_task_space_weight",
    "out_task_space_weight",
    "average_over_task_space",
    "metrics_over_task_space",
)
