"""EasyRec's model_config (EasyRecModel) → easymtl's model_config: one converter per
EasyRec model_class (MODELS), its feature groups, and its regularization.

Meaning as EasyRec's model/*.py compute it:
- MMoE, DBMTL, PLE and SimpleMultiTask read the feature group named "all" only; ESMM
  reads its `groups`' inputs, else "all". Other groups are not used.
- `l2_regularization` (default 1e-4 in these models' messages) adds s x sum(w^2) / 2 of
  every dense kernel to the loss; `embedding_regularization` adds s x sum(e^2) / 2 over
  the batch's looked-up embeddings, a sum over the batch's rows.
- ESMM sums its losses over the batch (tf.reduce_sum), the other models average them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from easymtl.convert.easyrec.towers import convert_dnn, convert_losses, convert_tower
from easymtl.convert.record import Src

MODELS: dict = {}
# Converters of model_classes whose model is a backbone, by model_class (besides
# MultiTaskModel's AITM): ``fn(model_config src, easymtl ModelConfig, ctx) -> groups``.
BACKBONES: dict = {}
# EasyRec's rankers that easymtl has no model for.
RANKERS = {"MultiTowerBST", "FM", "AutoInt", "CMBF", "Uniter"}
_WIDE_DEEP = {0: "DEEP", 1: "WIDE", 2: "WIDE_AND_DEEP"}
_L2_DEFAULT = 1e-4  # EasyRec's default l2_regularization of MMoE, ESMM, DBMTL, PLE, ...


@dataclass(frozen=True)
class ModelClass:
    """How one EasyRec model_class converts: its message `oneof` becomes easymtl's
    `target` by `fn`; `loss_sum`: EasyRec sums its losses over the batch; `rank`: a
    single-task ranker (its loss, num_class and metrics are the model_config's and
    eval_config's); `l2`: its message's default l2_regularization."""

    oneof: str
    target: str
    fn: Callable
    loss_sum: bool = False
    rank: bool = False
    l2: float = _L2_DEFAULT


def model_class(
    name: str,
    oneof: str,
    loss_sum: bool = False,
    target: str | None = None,
    rank: bool = False,
    l2: float = _L2_DEFAULT,
):
    """Registers the converter of EasyRec's model_class `name` (its message: `oneof`,
    easymtl's: `target`, default the same):
    ``fn(src of the message, easymtl message, ctx) -> feature groups it reads`` (see
    :class:`ModelClass`)."""

    def register(fn):
        MODELS[name] = ModelClass(oneof, target or oneof, fn, loss_sum, rank, l2)
        return fn

    return register


def convert_model(src: Src, model, ctx: dict) -> dict:
    """Fills easymtl's ModelConfig `model` from EasyRec's model_config `src`. Returns
    ``groups`` (the feature groups kept, {name: feature names}) and ``loss_scale``
    (the batch size where EasyRec sums the losses, else 1)."""
    name = src.get("model_class") or ""
    src.drop("model_name", "a label of EasyRec's")
    groups = {g.get("group_name") or "": g for g in _group_srcs(src)}
    if name in RANKERS:
        src.fail(
            "model_class",
            f"EasyRec's {name} is a single-task ranker easymtl has no model for; "
            f"easymtl.convert converts the rankers {', '.join(_rankers())}",
        )
        return {"groups": {}, "loss_scale": 1, "rank": True}
    ctx["group_names"] = list(groups)
    ctx["model_src"], ctx["extra_groups"] = src, {}
    rank = name == "RankModel" or (name in MODELS and MODELS[name].rank)
    if rank:
        convert_rank_fields(src, model, ctx)
    wide = ()
    if name == "MultiTaskModel":  # a backbone: AITM's is converted
        from easymtl.convert.easyrec.backbone import convert_backbone_model

        read, scale = convert_backbone_model(src, model, ctx), 1
    elif name in BACKBONES:  # RankModel's MaskNet backbone (rankers.py)
        read, scale = BACKBONES[name](src, model, ctx), 1
    elif name not in MODELS:
        src.fail(
            "model_class",
            f"{name!r} is not converted; easymtl.convert knows {', '.join(sorted(MODELS))}, "
            "MultiTaskModel's AITM backbone and RankModel's MaskNet backbone",
        )
        return {"groups": {}, "loss_scale": 1, "rank": False}
    else:
        entry = MODELS[name]
        sub = src.msg(entry.oneof, f"model_config.{entry.target}", name)
        if sub is None:
            src.fail("model_class", f"model_class {name} needs its `{entry.oneof} {{ ... }}`")
            return {"groups": {}, "loss_scale": 1, "rank": rank}
        for other in ("backbone", "model_params"):
            if src.has(other):
                src.nodes(other)
                src.fail(other, f"EasyRec's {name} with a backbone is not converted; remove it")
        read = entry.fn(sub, getattr(model, entry.target), ctx)
        wide = ("wide",) if rank else ()
        scale = ctx["batch_size"] if entry.loss_sum else 1
        l2 = sub.get("l2_regularization", float, entry.l2)
        model.l2_regularization = l2 / 2 / scale
        summed = " added to a loss summed over the batch" if scale > 1 else ""
        sub.say(
            f"l2_regularization {l2:g}{'' if sub.has('l2_regularization') else ' (default)'} -> "
            f"model_config.l2_regularization {model.l2_regularization:g} (easymtl: s x "
            f"sum(w^2); EasyRec: s x sum(w^2) / 2{summed})"
        )
        sub.drop("dense_regularization", "deprecated in EasyRec")
        sub.close(f"{name} -> {entry.target}")
    kept = {}
    for group_name, group in groups.items():
        if group_name in read:
            out = model.feature_groups.add()
            kept[group_name] = _convert_group(group, out, name, group_name in wide)
        else:
            group.consume()
            group.close(f"dropped: EasyRec's {name} does not read feature group {group_name!r}")
    for group_name, (names, group_type) in ctx["extra_groups"].items():
        model.feature_groups.add(group_name=group_name, feature_names=names, group_type=group_type)
        kept[group_name] = names
    for group_name in read:
        if group_name not in groups and group_name not in ctx["extra_groups"]:
            src.fail(
                "feature_groups",
                f"EasyRec's {name} reads feature group {group_name!r}, which is not there",
            )
    emb = src.get("embedding_regularization", float, 0.0)
    summed = ", added to a loss summed over the batch" if scale > 1 else ""
    if emb:
        model.embedding_regularization = emb * ctx["batch_size"] / 2 / scale
        src.say(
            f"embedding_regularization {emb:g} -> {model.embedding_regularization:g} "
            f"(EasyRec: s x sum(e^2) / 2 summed over the batch's rows{summed}; "
            f"easymtl: s x mean over rows of sum(e^2); batch_size {ctx['batch_size']})"
        )
    _refuse_model_fields(src, rank)
    src.close()
    return {"groups": kept, "loss_scale": scale, "rank": rank}


def _rankers() -> list[str]:
    return sorted(n for n, e in MODELS.items() if e.rank) + ["RankModel's MaskNet backbone"]


def convert_rank_fields(src: Src, model, ctx: dict) -> None:
    """A ranker's one task, from EasyRec's model_config (rank_model.py): label_name
    (default: the first label field), num_class, loss_type or losses, and the sample
    weight; its metrics are eval_config's metrics_set (see ``convert_rank_metrics``)."""
    from easymtl.protos import tower_pb2

    if src.has("label_name"):
        model.label_name = src.get("label_name", keep="label_name")
    elif ctx["labels"]:
        model.label_name = ctx["labels"][0]
        src.say(f"label_name {model.label_name!r} (EasyRec: the first label_fields)")
    num_class = src.get("num_class", int, 1)
    if num_class > 1:
        model.num_class = num_class
        src.keep("num_class")
    task = tower_pb2.TaskTower()
    convert_losses(src, task, num_class)
    if task.weight != 1.0:
        src.fail("losses", "a ranker's losses have one weight in easymtl: give them weight 1")
    model.losses.extend(task.losses)
    if ctx["sample_weight"]:
        model.sample_weight_name = ctx["sample_weight"]
        src.say(
            "sample_weight_name: data_config.sample_weight; the loss is sum(w x loss) / "
            "sum(w) (EasyRec: / the number of rows of non-zero weight)",
            differs=True,
        )
    ctx["rank"] = True


def _group_srcs(src: Src) -> list[Src]:
    return src.msgs("feature_groups", "model_config.feature_groups[{i}]", "FeatureGroupConfig")


def _convert_group(src: Src, group, model_name: str, wide: bool = False) -> list[str]:
    """A feature group read by the model; `wide`: read as WIDE (a ranker's "wide")."""
    group.group_name = src.get("group_name", keep="group_name")
    names = src.get_list("feature_names")
    group.feature_names.extend(names)
    src.keep("feature_names")
    kind = src.get("wide_deep", _WIDE_DEEP, "DEEP")
    if kind != ("WIDE" if wide else "DEEP"):
        part = "WIDE" if wide else "DEEP"
        src.fail(
            "wide_deep",
            f"EasyRec's {model_name} reads the {part} part of group {group.group_name!r}: "
            f"set wide_deep: {part}",
        )
    if wide:
        group.group_type = 1  # WIDE
        src.close("-> feature_groups (WIDE: each feature's wide embedding)")
        return names
    src.drop("negative_sampler", "matching models only")
    if src.has("sequence_features"):
        src.nodes("sequence_features")
        src.fail(
            "sequence_features", "DIN attention in a feature group is not converted yet; remove it"
        )
    src.close("-> feature_groups (DEEP)")
    return names


def _refuse_model_fields(src: Src, rank: bool = False) -> None:
    for name, what in (
        ("seq_att_groups", "DIN groups are read by EasyRec's MultiTowerDIN only"),
        ("kd", "knowledge distillation is not in easymtl"),
        ("variational_dropout", "variational dropout is not in easymtl"),
        ("ev_params", "EmbeddingVariable is DeepRec's (PAI-TF); remove ev_params"),
        ("losses", "the model's losses are its towers'"),
    ):
        if any(n.name == name and n.used for n in src.fields):
            continue  # read by the model (a ranker's losses, MultiTowerDIN's DIN groups)
        if src.has(name):
            src.nodes(name)
            src.fail(name, what)
    if src.get("loss_weight_strategy", {0: "Fixed", 1: "Uncertainty", 2: "Random"}, "Fixed") != (
        "Fixed"
    ):
        src.fail("loss_weight_strategy", "use model_config.loss_weighting of easymtl")
    src.drop("restore_filters", "easymtl restores every variable it finds")
    if rank:
        return
    src.drop("loss_type", "the towers' losses decide")
    src.drop("num_class", "the towers' num_class decides")
    src.drop("label_name", "the towers name their labels")


def _towers(src: Src, msg, ctx: dict, bayes: bool = False) -> None:
    target = f"{src.target}.task_towers[{{i}}]"
    kind = "BayesTaskTower" if bayes else "TaskTower"
    for i, tower in enumerate(src.msgs("task_towers", target, kind)):
        convert_tower(tower, msg.task_towers.add(), ctx, i, bayes)
        tower.close(f"-> task_towers[{i}]")


@model_class("MMoE", "mmoe")
def convert_mmoe(src: Src, msg, ctx: dict) -> list[str]:
    expert = src.msg("expert_dnn", f"{src.target}.expert_mlp", "DNN")
    experts = src.msgs("experts", f"{src.target}.expert_mlp", "ExpertTower")
    if expert is not None:
        convert_dnn(expert, msg.expert_mlp)
        msg.num_expert = src.get("num_expert", int, 0, keep="num_expert")
        if not msg.num_expert:
            src.fail("num_expert", "EasyRec's MMoE with expert_dnn needs num_expert > 0")
    elif experts:
        dnns = []
        for e in experts:
            e.drop("expert_name", "experts are numbered")
            dnn = e.msg("dnn", e.target, "DNN")
            dnns.append(dnn.fields and _dnn_key(dnn))
            convert_dnn(dnn, msg.expert_mlp)
            e.close()
            if len(dnns) == 1:
                kept = type(msg.expert_mlp)()
                kept.CopyFrom(msg.expert_mlp)
            msg.expert_mlp.CopyFrom(kept)
        if len(set(dnns)) > 1:
            src.fail(
                "experts", "easymtl's experts share one expert_mlp; give every expert the same dnn"
            )
        msg.num_expert = len(experts)
        src.say(f"experts -> num_expert {len(experts)} of one expert_mlp")
    else:
        src.fail("expert_dnn", "EasyRec's MMoE needs expert_dnn (or experts)")
    _towers(src, msg, ctx)
    return ["all"]


def _dnn_key(dnn: Src) -> str:
    return repr([(n.name, [v.text for v in n.values or []]) for n in dnn.fields])


@model_class("ESMM", "esmm", loss_sum=True)
def convert_esmm(src: Src, msg, ctx: dict) -> list[str]:
    read = []
    for group in src.msgs("groups", f"{src.target}.groups[{{i}}]", "Tower"):
        out = msg.groups.add()
        out.input = group.get("input", keep="input") or ""
        convert_dnn(group.msg("dnn", f"{group.target}.mlp", "DNN"), out.mlp)
        group.close("-> groups (an MLP per feature group)")
        read.append(out.input)
    for name in ("ctr_tower", "cvr_tower"):
        tower = src.msg(name, f"{src.target}.{name}", "TaskTower")
        if tower is None:
            src.fail(name, f"EasyRec's ESMM needs its {name}")
            continue
        # EasyRec: label_fields in the order [cvr_tower, ctr_tower].
        convert_tower(tower, getattr(msg, name), ctx, 0 if name == "cvr_tower" else 1)
        tower.say(
            "ESMM's losses are summed over the batch in EasyRec (mean in easymtl: the "
            "optimizers and regularizers are scaled to match)"
        )
        if name == "cvr_tower":
            tower.say(
                "metrics: EasyRec's <metric>_cvr_masked is easymtl's <metric>_cvr (on "
                "clicked rows); <metric>_ctcvr as in EasyRec"
            )
        tower.close(f"-> {name}")
    return read or ["all"]


@model_class("DBMTL", "dbmtl")
def convert_dbmtl(src: Src, msg, ctx: dict) -> list[str]:
    for name in ("bottom_cmbf", "bottom_uniter"):
        if src.has(name):
            src.nodes(name)
            src.fail(name, "multi-modal bottoms are not in easymtl; use bottom_dnn")
    if not convert_dnn(src.msg("bottom_dnn", f"{src.target}.bottom_mlp", "DNN"), msg.bottom_mlp):
        msg.ClearField("bottom_mlp")
    expert = src.msg("expert_dnn", f"{src.target}.expert_mlp", "DNN")
    if convert_dnn(expert, msg.expert_mlp):
        msg.num_expert = src.get("num_expert", int, 0, keep="num_expert")
        if not msg.num_expert:
            src.fail("num_expert", "EasyRec's DBMTL with expert_dnn needs num_expert > 0")
    else:
        msg.ClearField("expert_mlp")
        src.drop("num_expert", "no expert_dnn")
    _towers(src, msg, ctx, bayes=True)
    return ["all"]


@model_class("PLE", "ple")
def convert_ple(src: Src, msg, ctx: dict) -> list[str]:
    target = f"{src.target}.extraction_networks[{{i}}]"
    for net in src.msgs("extraction_networks", target, "ExtractionNetwork"):
        out = msg.extraction_networks.add()
        out.network_name = net.get("network_name", keep="network_name") or ""
        out.expert_num_per_task = net.get("expert_num_per_task", int, 0, keep="expert_num_per_task")
        out.share_num = net.get("share_num", int, 0)
        net.keep_if("share_num")
        convert_dnn(
            net.msg("task_expert_net", f"{net.target}.task_expert_net", "DNN"), out.task_expert_net
        )
        share = net.msg("share_expert_net", f"{net.target}.share_expert_net", "DNN")
        if not convert_dnn(share, out.share_expert_net):
            out.ClearField("share_expert_net")
            if out.share_num:
                net.fail(
                    "share_expert_net",
                    "EasyRec's shared experts without share_expert_net "
                    "pass their input through; give share_expert_net",
                )
        net.close("-> extraction_networks")
    _towers(src, msg, ctx)
    return ["all"]


@model_class("SimpleMultiTask", "simple_multi_task")
def convert_simple_multi_task(src: Src, msg, ctx: dict) -> list[str]:
    _towers(src, msg, ctx)
    return ["all"]
