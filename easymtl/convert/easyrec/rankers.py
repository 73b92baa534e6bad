"""EasyRec's single-task rankers → easymtl's rankers (rank_model.proto), one converter
per model_class.

Meaning as EasyRec's model/*.py compute it (each a RankModel: one label, the
model_config's loss_type / losses and num_class, eval_config's metrics_set):
- WideAndDeep: the "wide" group's wide embeddings (wide_output_dim each) summed over the
  features, plus Dense(dnn("deep")); with final_dnn, Dense(final_dnn([wide, dnn])).
- DeepFM: the "wide" group's wide embeddings summed into one value, FM over the "deep"
  group's embeddings (or "fm"'s), dnn on "deep"; with final_dnn, Dense(final_dnn([wide,
  FM, dnn])), else wide + sum(FM) + Dense(dnn).
- DCN: deep_tower's dnn and a cross net of cross_num layers, both on group "all"
  (whatever their `input` says), under final_dnn and a Dense output.
- DLRM: bot_dnn on group "dense", its output and group "sparse"'s embeddings interact by
  dot products (without self-interaction), top_dnn on [interactions, sparse embeddings
  (, bot_dnn's output with arch_with_dense_feature)], then a Dense of 1.
- MultiTower / MultiTowerDIN: a dnn per tower on BatchNorm(its group), DIN towers over
  seq_att_groups (keys against their hist_seq, the attention dnn's last unit the score),
  concatenated, under final_dnn and a Dense output.
- RocketLaunching: a booster and a light dnn on group "all" (over share_dnn), the light
  one reading the features (or share_dnn's output) through a stop-gradient; both learn
  the label (CLASSIFICATION), the light one also the booster's logits (a mean-square
  hint loss) and, with feature_based_distillation, its hidden layers.
- RankModel with a MaskNet backbone block (layers/keras/mask_net.py) on one group: the
  block's output under a Dense of num_class.
- EasyRec's DNN has BatchNorm by default (towers.convert_dnn writes use_bn: true).
"""

from __future__ import annotations

import math

from easymtl.convert.easyrec.backbone import keras_mlp
from easymtl.convert.easyrec.models import BACKBONES, model_class
from easymtl.convert.easyrec.towers import convert_dnn
from easymtl.convert.record import Src

_SEQUENCE = 2  # easymtl's FeatureGroupType.SEQUENCE
_NO_BIAS = "the linear output has no bias (TorchEasyRec's); EasyRec's Dense output has one"


def _mlp(src: Src, name: str, target: str, mlp, required: bool = True) -> bool:
    """EasyRec's DNN field `name` of `src` → easymtl's MLP `mlp`; False if absent or
    of no layer (refused when `required`)."""
    dnn = src.msg(name, f"{src.target}.{target}", "DNN")
    if convert_dnn(dnn, mlp):
        src.say(f"{name} -> {target}")
        return True
    if required:
        src.fail(name, f"easymtl's {src.target.rsplit('.', 1)[-1]} needs {name} with layers")
    return False


def _wide(src: Src, msg, ctx: dict) -> int:
    """wide_output_dim → wide_embedding_dim, and EasyRec's initializer of the wide
    embeddings (TensorFlow's embedding_column: a truncated normal of std 1 / sqrt(dim))."""
    dim = src.get("wide_output_dim", int, 1)
    msg.wide_embedding_dim = dim
    src.keep_if("wide_output_dim", "wide_embedding_dim")
    std = 1 / math.sqrt(dim)
    msg.wide_init_fn = f"nn.init.normal_,mean=0,std={std:.6g}"
    src.say(
        f"wide_init_fn: a normal of std {std:.6g} (EasyRec: TensorFlow's truncated normal "
        "of std 1 / sqrt(wide_output_dim))",
        differs=True,
    )
    return dim


@model_class("WideAndDeep", "wide_and_deep", rank=True)
def convert_wide_and_deep(src: Src, msg, ctx: dict) -> list[str]:
    dim = _wide(src, msg, ctx)
    _mlp(src, "dnn", "deep", msg.deep)
    if not _mlp(src, "final_dnn", "final", msg.final, required=False):
        msg.ClearField("final")
        if dim != 1:
            src.say(
                f"the wide term is the sum of all {dim} dims of every wide embedding (EasyRec "
                f"adds the {dim}-wide sum to its {dim} logits, as many as num_class)",
                differs=True,
            )
    elif dim != 1:
        src.say(
            f"final reads [the wide term, deep's output] with the wide term one value, the "
            f"sum of all {dim} dims (EasyRec's final_dnn reads the {dim}-wide sum over the "
            "features)",
            differs=True,
        )
    return ["wide", "deep"]


@model_class("DeepFM", "deepfm", rank=True)
def convert_deepfm(src: Src, msg, ctx: dict) -> list[str]:
    _wide(src, msg, ctx)
    _mlp(src, "dnn", "deep", msg.deep)
    if not _mlp(src, "final_dnn", "final", msg.final, required=False):
        msg.ClearField("final")
    src.drop("wide_regularization", "deprecated in EasyRec; l2_regularization applies")
    read = ["wide", "deep"]
    if "fm" in ctx["group_names"]:
        src.say('FM over group "fm"')
        read.append("fm")
    else:
        src.say('FM over the embeddings of group "deep"')
    return read


@model_class("DCN", "dcn", target="dcn_v1", rank=True)
def convert_dcn(src: Src, msg, ctx: dict) -> list[str]:
    deep = src.msg("deep_tower", f"{src.target}.deep", "Tower")
    if deep is None:
        src.fail("deep_tower", "EasyRec's DCN needs its deep_tower")
    else:
        deep.drop("input", "EasyRec's DCN reads group 'all' whatever it names")
        _mlp(deep, "dnn", "deep", msg.deep)
        deep.close("deep_tower -> deep")
    cross = src.msg("cross_tower", f"{src.target}.cross", "CrossTower")
    msg.cross.cross_num = 3
    if cross is not None:
        cross.drop("input", "EasyRec's DCN reads group 'all' whatever it names")
        msg.cross.cross_num = cross.get("cross_num", int, 3, keep="cross_num")
        cross.close("cross_tower -> cross")
    _mlp(src, "final_dnn", "final", msg.final)
    src.say(_NO_BIAS, differs=True)
    return ["all"]


@model_class("DLRM", "dlrm", rank=True, l2=1e-5)
def convert_dlrm(src: Src, msg, ctx: dict) -> list[str]:
    _mlp(src, "bot_dnn", "dense_mlp", msg.dense_mlp)
    _mlp(src, "top_dnn", "final", msg.final)
    if src.get("arch_interaction_op", str, "dot") != "dot":
        src.fail("arch_interaction_op", "easymtl's DLRM interacts by dot products only: 'dot'")
    if src.get("arch_interaction_itself", bool, False):
        src.fail("arch_interaction_itself", "easymtl's DLRM has no self-interaction; remove it")
    msg.arch_with_sparse = True
    src.say("arch_with_sparse: true (EasyRec's top_dnn always reads the sparse embeddings)")
    if src.get("arch_with_dense_feature", bool, False):
        src.keep("arch_with_dense_feature", "final reads dense_mlp's output")
    else:
        src.say(
            "final also reads dense_mlp's output (EasyRec's top_dnn reads it only with "
            "arch_with_dense_feature)",
            differs=True,
        )
    src.say("one output whatever num_class, as EasyRec's")
    return ["dense", "sparse"]


def _towers(src: Src, msg) -> list[str]:
    read = []
    for i, tower in enumerate(src.msgs("towers", f"{src.target}.towers[{{i}}]", "Tower")):
        out = msg.towers.add(input=tower.get("input", keep="input") or "")
        if not _mlp(tower, "dnn", "mlp", out.mlp, required=False):
            out.ClearField("mlp")
        tower.say("EasyRec batch-normalizes the tower's input first; easymtl does not", True)
        tower.close(f"-> towers[{i}]")
        read.append(out.input)
    if src.has("bst_towers"):
        src.nodes("bst_towers")
        src.fail("bst_towers", "BST towers are not in easymtl; remove them")
    return read


@model_class("MultiTower", "multi_tower", rank=True)
def convert_multi_tower(src: Src, msg, ctx: dict) -> list[str]:
    read = _towers(src, msg)
    if src.has("din_towers"):
        src.nodes("din_towers")
        src.fail("din_towers", "EasyRec's MultiTower does not read din_towers; use MultiTowerDIN")
    _mlp(src, "final_dnn", "final", msg.final)
    return read


@model_class("MultiTowerDIN", "multi_tower", target="multi_tower_din", rank=True)
def convert_multi_tower_din(src: Src, msg, ctx: dict) -> list[str]:
    read = _towers(src, msg)
    groups = _seq_att_groups(ctx["model_src"], ctx)
    target = f"{src.target}.din_towers[{{i}}]"
    for i, tower in enumerate(src.msgs("din_towers", target, "DINTower")):
        out = msg.din_towers.add(input=tower.get("input", keep="input") or "")
        if out.input not in groups:
            tower.fail("input", f"{out.input!r} is not a seq_att_groups group_name")
        dnn = tower.msg("dnn", f"{tower.target}.attn_mlp", "DNN")
        units = dnn.get_list("hidden_units", int) if dnn is not None else []
        if len(units) < 2 or units[-1] != 1:
            tower.fail("dnn", "EasyRec's DIN dnn ends with the score: [..., 1], one layer or more")
        elif convert_dnn(dnn, out.attn_mlp):
            del out.attn_mlp.hidden_units[-1]
            tower.say("dnn -> attn_mlp without its last unit (easymtl's linear score)")
        tower.say(
            "the tower outputs the attended sequence (EasyRec: [attended sequence, keys])",
            differs=True,
        )
        tower.close(f"-> din_towers[{i}]")
        read.append(out.input)
    _mlp(src, "final_dnn", "final", msg.final)
    return read


def _seq_att_groups(src: Src, ctx: dict) -> dict[str, list[str]]:
    """EasyRec's seq_att_groups → SEQUENCE feature groups (in ctx["extra_groups"]): the
    keys (queries) then their hist_seq features, in seq_att_map order."""
    groups = {}
    target = "model_config.feature_groups"
    for group in src.msgs("seq_att_groups", target, "SeqAttGroupConfig"):
        name = group.get("group_name", keep="group_name") or ""
        keys, hists = [], []
        for item in group.msgs("seq_att_map", target, "SeqAttMap"):
            keys += item.get_list("key")
            hists += item.get_list("hist_seq")
            if item.has("aux_hist_seq"):
                item.nodes("aux_hist_seq")
                item.fail("aux_hist_seq", "auxiliary sequences are not in easymtl's DIN")
            item.close("key, hist_seq -> the SEQUENCE group's features")
        if len(keys) != len(hists):
            group.fail("seq_att_map", "give one hist_seq per key")
        group.drop("tf_summary", "no summaries of sequences")
        for field in ("seq_dnn", "allow_key_search", "allow_key_transform", "transform_dnn"):
            if group.has(field):
                group.nodes(field)
                group.fail(field, "not in easymtl's DIN; remove it")
        if not group.get("need_key_feature", bool, True):
            group.fail("need_key_feature", "easymtl's DIN reads its keys; remove it")
        group.say(
            "a row whose hist_seq cells hold different numbers of items: easymtl attends "
            "over the shortest (EasyRec stops with an error)",
            differs=True,
        )
        group.close(f"-> feature_groups {name!r} (SEQUENCE: keys, then hist_seq)")
        groups[name] = keys + hists
        ctx["extra_groups"][name] = (keys + hists, _SEQUENCE)
    return groups


def _rank_backbone(src: Src, model, ctx: dict) -> list[str]:
    """EasyRec's RankModel whose backbone is one MaskNet block on a feature group →
    easymtl's mask_net. Returns the group it reads (none on a refusal)."""
    backbone = src.msg("backbone", "model_config.mask_net", "BackboneTower")
    if backbone is None:
        src.fail("backbone", "EasyRec's RankModel needs its backbone")
        return []
    blocks = backbone.msgs("blocks", "model_config.mask_net", "Block")
    if len(blocks) != 1:
        backbone.fail("blocks", _ONE_BLOCK)
        for block in blocks:
            block.consume()
            block.close()
        backbone.consume()
        backbone.close()
        return []
    block = blocks[0]
    block.drop("name", "one block")
    inputs = block.msgs("inputs", block.target, "Input")
    groups = [i.get("feature_group_name") for i in inputs]
    for item in inputs:
        item.close()
    if len(groups) != 1 or not groups[0]:
        block.fail("inputs", "the MaskNet block reads one feature_group_name")
    layer = block.msg("keras_layer", block.target, "KerasLayer")
    if layer is None or layer.get("class_name") != "MaskNet" or not layer.has("masknet"):
        block.fail("keras_layer", _ONE_BLOCK)
        block.consume()
    else:
        _masknet(layer.msg("masknet", "model_config.mask_net.mask_net_module", "MaskNet"), model)
        layer.close()
    block.close("-> mask_net")
    names = backbone.get_list("concat_blocks") + backbone.get_list("output_blocks")
    if len(names) > 1:
        backbone.fail("concat_blocks", "the MaskNet block is the output")
    for name in ("packages", "top_mlp"):
        if backbone.has(name):
            backbone.nodes(name)
            backbone.fail(name, _ONE_BLOCK)
    backbone.say(_NO_BIAS, differs=True)
    backbone.close("RankModel's backbone -> mask_net")
    params = src.msg("model_params", "model_config", "ModelParams")
    l2 = params.get("l2_regularization", float, 0.0) if params is not None else 0.0
    model.l2_regularization = l2 / 2
    if params is not None:
        params.say(f"l2_regularization {l2:g} -> model_config.l2_regularization {l2 / 2:g}")
        params.close()
    return groups[:1] if groups and groups[0] else []


BACKBONES["RankModel"] = _rank_backbone

_ONE_BLOCK = (
    "this backbone is not converted: easymtl.convert reads a RankModel backbone of one "
    "MaskNet block (as samples/model_config/masknet_on_taobao.config)"
)


def _masknet(src: Src, model) -> None:
    """EasyRec's MaskNet layer → easymtl's mask_net_module."""
    module = model.mask_net.mask_net_module
    blocks = src.msgs("mask_blocks", f"{src.target}.mask_block", "MaskBlock")
    specs = []
    for block in blocks:
        spec = (
            block.get("reduction_factor", float, None),
            block.get("aggregation_size", int, None),
            block.get("output_size", int, None),
        )
        specs.append(spec)
        if spec[2] is None:
            block.fail("output_size", "easymtl's mask blocks have an output layer: set it")
        if spec[0] is None and spec[1] is None:
            block.fail("aggregation_size", "give aggregation_size or reduction_factor")
        if block.get("input_layer_norm", bool, False):
            block.fail("input_layer_norm", "easymtl's blocks normalize no input; remove it")
        if block.has("projection_dim"):
            block.nodes("projection_dim")
            block.fail("projection_dim", "not in easymtl's mask blocks; remove it")
        block.close()
    if not blocks or len(set(specs)) > 1:
        src.fail("mask_blocks", "easymtl's mask blocks are all alike: give equal ones")
    if blocks:
        reduction, aggregation, output = specs[0]
        module.n_mask_blocks = len(blocks)
        if reduction is not None:
            module.mask_block.reduction_ratio = reduction
        else:
            module.mask_block.reduction_ratio = 0.0
            module.mask_block.aggregation_dim = aggregation or 0
        module.mask_block.hidden_dim = output or 1
        src.say(
            f"mask_blocks -> n_mask_blocks {len(blocks)} of mask_block (aggregation_size -> "
            "aggregation_dim, reduction_factor -> reduction_ratio, output_size -> hidden_dim)"
        )
    module.use_parallel = src.get("use_parallel", bool, True)
    src.keep_if("use_parallel")
    if not src.get("input_layer_norm", bool, True):
        src.fail("input_layer_norm", "easymtl's MaskNet normalizes its input; remove it")
    mlp = src.msg("mlp", f"{src.target}.top_mlp", "MLP")
    if mlp is None:
        src.fail("mlp", "easymtl's mask_net ranker needs the top mlp")
    else:
        keras_mlp(mlp, module.top_mlp)
    src.close("MaskNet -> mask_net_module")


@model_class("RocketLaunching", "rocket_launching", rank=True)
def convert_rocket_launching(src: Src, msg, ctx: dict) -> list[str]:
    if not _mlp(src, "share_dnn", "share_mlp", msg.share_mlp, required=False):
        msg.ClearField("share_mlp")
    _mlp(src, "booster_dnn", "booster_mlp", msg.booster_mlp)
    _mlp(src, "light_dnn", "light_mlp", msg.light_mlp)
    msg.feature_based_distillation = src.get("feature_based_distillation", bool, False)
    src.keep_if("feature_based_distillation")
    function = src.get("feature_distillation_function", {0: "COSINE", 1: "EUCLID"}, "COSINE")
    msg.feature_distillation_function = 1 if function == "EUCLID" else 0
    src.keep_if("feature_distillation_function")
    src.say("the light net reads the features through a stop-gradient, as EasyRec's")
    return ["all"]
