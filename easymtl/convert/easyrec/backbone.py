"""EasyRec's MultiTaskModel with a `backbone` → easymtl's model, where the backbone is a
pattern easymtl has as a model: AITM (samples/model_config/aitm_on_taobao.config).

EasyRec's AITM is a backbone of blocks: an optional shared bottom MLP on a feature group,
an MLP block per task (its tower), and for each task after the first an AITMTower block
over [its tower, the previous task's output block]; `output_blocks` names each task's
output, and `model_params.task_towers` put a dnn and a head on each. Meaning as EasyRec's
layers/keras/multi_task.py (AITMTower: the own tower is the query of an attention over
both inputs, each projected by its own Dense layers; the transferred input passes
stop_gradient, default true, then transfer_mlp) and layers/keras/blocks.py (MLP: Dense
without bias, BatchNorm on every layer, relu, and no activation on the last layer unless
final_activation).
"""

from __future__ import annotations

from easymtl.convert.easyrec.towers import convert_tower
from easymtl.convert.record import Src

_NOT_CONVERTED = (
    "this backbone is not converted: easymtl.convert reads EasyRec's AITM backbone (MLP "
    "blocks and AITMTower blocks, as samples/model_config/aitm_on_taobao.config)"
)


def convert_backbone_model(src: Src, model, ctx: dict) -> list[str]:
    """Converts the MultiTaskModel `src` (EasyRec's model_config) into `model` (easymtl's
    ModelConfig); returns the feature groups it reads (none on a refusal)."""
    backbone = src.msg("backbone", "model_config.aitm", "BackboneTower")
    params = src.msg("model_params", "model_config.aitm", "ModelParams")
    if backbone is None or params is None:
        src.fail("backbone", "EasyRec's MultiTaskModel needs its backbone and model_params")
        return []
    blocks = {}
    for block in backbone.msgs("blocks", "model_config.aitm", "Block"):
        name = block.get("name") or ""
        blocks[name] = _block(block)
    outputs = backbone.get_list("output_blocks")
    for name in ("packages", "concat_blocks", "top_mlp"):
        if backbone.has(name):
            backbone.nodes(name)
            backbone.fail(name, _NOT_CONVERTED)
    aitm = model.aitm
    read = _pattern(backbone, blocks, outputs, aitm)
    backbone.close("-> aitm (EasyRec's AITM backbone: " + ", ".join(blocks) + ")")
    towers = params.msgs("task_towers", "model_config.aitm.task_towers[{i}]", "BayesTaskTower")
    if len(towers) != len(outputs):
        params.fail("task_towers", f"one task tower per output block ({len(outputs)})")
    names: list[str] = []
    calibrations = []
    for i, tower_src in enumerate(towers):
        related = tower_src.get_list("relation_tower_names")
        if related and (i == 0 or related != names[-1:]):
            tower_src.fail("relation_tower_names", "AITM calibrates a task against the one "
                           "before it only")  # fmt: skip
        calibration = {"related": related, "weight": None}
        tower = aitm.task_towers[i] if i < len(aitm.task_towers) else aitm.task_towers.add()
        mlp = type(tower.mlp)()
        mlp.CopyFrom(tower.mlp)
        tower.ClearField("mlp")
        convert_tower(tower_src, tower, ctx, i, calibration=calibration)
        # The tower's dnn is on its AIT output, under the head: an output_mlp.
        output = aitm.output_mlps.add()
        if tower.HasField("mlp"):
            output.CopyFrom(tower.mlp)
        tower.mlp.CopyFrom(mlp)
        if tower_src.has("dnn"):
            tower_src.say("dnn -> output_mlps (on the task's AIT output)")
        if tower_src.has("relation_dnn"):
            tower_src.nodes("relation_dnn")
            tower_src.fail("relation_dnn", "not in an AITM task; remove it")
        names.append(tower.tower_name)
        calibrations.append(calibration["weight"])
        tower_src.close(f"-> task_towers[{i}]")
    if all(not m.hidden_units for m in aitm.output_mlps):
        aitm.ClearField("output_mlps")
    elif any(not m.hidden_units for m in aitm.output_mlps):
        params.fail("task_towers", "give every task tower a dnn, or none")
    later = set(calibrations[1:])
    if len(later) > 1:
        params.fail("task_towers", "give every task after the first the same ORDER_CALIBRATE_LOSS")
    aitm.calibrator_weight = next(iter(later), None) or 0.0
    params.say(f"calibrator_weight {aitm.calibrator_weight:g} (the towers' ORDER_CALIBRATE_LOSS)")
    l2 = params.get("l2_regularization", float, 0.0)
    model.l2_regularization = l2 / 2
    params.say(f"l2_regularization {l2:g} -> model_config.l2_regularization {l2 / 2:g}")
    for name in ("outputs", "user_tower_idx_in_output", "item_tower_idx_in_output",
                 "simi_func", "temperature", "scale_simi"):  # fmt: skip
        if params.has(name):
            params.nodes(name)
            params.fail(name, "not in easymtl's AITM; remove it")
    params.close("model_params -> aitm task towers")
    return read


def _block(src: Src) -> dict:
    """A block as ``{inputs, merge, layer, params}`` (its fields read)."""
    inputs = []
    for item in src.msgs("inputs", src.target, "Input"):
        group = item.get("feature_group_name")
        block = item.get("block_name")
        inputs.append(("group", group) if group else ("block", block))
        item.close()
    merge = src.get("merge_inputs_into_list", bool, False)
    layer = src.msg("keras_layer", src.target, "KerasLayer")
    if layer is None:
        src.fail("keras_layer", _NOT_CONVERTED)
        src.consume()
        src.close()
        return {"inputs": inputs, "merge": merge, "layer": None, "params": None}
    kind = layer.get("class_name") or ""
    field = {"MLP": "mlp", "AITMTower": "aitm"}.get(kind)
    params = layer.msg(field, src.target, kind) if field else None
    if params is None:
        layer.fail("class_name", f"{kind}: {_NOT_CONVERTED}")
        layer.consume()
    layer.close()
    src.close()
    return {"inputs": inputs, "merge": merge, "layer": kind, "params": params}


def keras_mlp(src: Src, mlp) -> None:
    """EasyRec's backbone MLP (layers/keras/blocks.py) → easymtl's MLP."""
    mlp.hidden_units.extend(src.get_list("hidden_units", int))
    dropout = src.get_list("dropout_ratio", float)
    if dropout:
        mlp.dropout_ratio.extend(dropout + [0.0] * (len(mlp.hidden_units) - len(dropout)))
    mlp.activation = src.get("activation", str, "relu")
    mlp.final_activation = src.get("final_activation", str, "linear")
    use_bn, final_bn = src.get("use_bn", bool, True), src.get("use_final_bn", bool, True)
    bias, final_bias = src.get("use_bias", bool, False), src.get("use_final_bias", bool, False)
    if use_bn != final_bn and len(mlp.hidden_units) > 1:
        src.fail("use_final_bn", "easymtl's MLP normalizes every layer or none")
    if bias != final_bias and len(mlp.hidden_units) > 1:
        src.fail("use_final_bias", "easymtl's MLP has biases on every layer or none")
    mlp.use_bn = final_bn if len(mlp.hidden_units) == 1 else use_bn
    mlp.bias = final_bias if len(mlp.hidden_units) == 1 else bias
    for name in ("use_bn_after_activation", "add_to_outputs"):
        if src.get(name, bool, False):
            src.fail(name, "not in easymtl's MLP; remove it")
    init = src.get("initializer", str, "he_uniform")
    src.say(
        f"MLP -> mlp: BatchNorm {'on' if mlp.use_bn else 'off'}, biases "
        f"{'on' if mlp.bias else 'off'}, last layer {mlp.final_activation} (EasyRec's MLP "
        f"defaults); initializer {init} dropped (easymtl's Dense: glorot_uniform)",
        differs=True,
    )
    src.close()


def _pattern(src: Src, blocks: dict, outputs: list[str], aitm) -> list[str]:
    """Matches EasyRec's AITM backbone; fills `aitm` (towers' mlps, bottom_mlp,
    info_mlp, stop_gradient, ait_attention); returns the feature group it reads."""
    if not outputs or any(name not in blocks for name in outputs):
        src.fail("output_blocks", "name the output block of each task")
        return []
    first = blocks[outputs[0]]
    if first["layer"] != "MLP":
        src.fail("output_blocks", f"{_NOT_CONVERTED}: the first task's output is an MLP block")
        return []
    towers = [outputs[0]]
    transfer = None
    for t, name in enumerate(outputs[1:], start=1):
        block = blocks[name]
        inputs = [n for kind, n in block["inputs"] if kind == "block"]
        if block["layer"] != "AITMTower" or len(inputs) != 2 or inputs[1] != outputs[t - 1]:
            src.fail("output_blocks", f"{_NOT_CONVERTED}: task {t + 1}'s output {name!r} is an "
                     "AITMTower over [its tower, the previous task's output]")  # fmt: skip
            return []
        if blocks.get(inputs[0], {}).get("layer") != "MLP":
            src.fail("blocks", f"{inputs[0]!r}: {_NOT_CONVERTED}")
            return []
        towers.append(inputs[0])
        params = block["params"]
        aitm.stop_gradient = params.get("stop_gradient", bool, True)
        if params.has("project_dim"):
            params.get("project_dim", int)
            params.fail("project_dim", "easymtl's AIT keeps the towers' width; remove it")
        info = type(aitm.info_mlp)()
        transfer_src = params.msg("transfer_mlp", "model_config.aitm.info_mlp", "MLP")
        if transfer_src is not None:
            keras_mlp(transfer_src, info)
        if transfer is not None and info != transfer:
            params.fail("transfer_mlp", "easymtl's AITM has one info_mlp for every task")
        transfer = info
        params.close(
            "AITMTower -> ait_attention 'own_query' (EasyRec's attention), stop_gradient, "
            "transfer_mlp -> info_mlp"
        )
    aitm.ait_attention = "own_query"
    if transfer is not None and transfer.hidden_units:
        aitm.info_mlp.CopyFrom(transfer)
    sources = {tuple(blocks[name]["inputs"]) for name in towers}
    if len(sources) != 1 or len(next(iter(sources))) != 1:
        src.fail("blocks", f"{_NOT_CONVERTED}: every task's tower reads one same input")
        return []
    kind, name = next(iter(sources))[0]
    if kind == "block":
        bottom = blocks.get(name)
        if (
            bottom is None
            or bottom["layer"] != "MLP"
            or len(bottom["inputs"]) != 1
            or (bottom["inputs"][0][0] != "group")
        ):
            src.fail("blocks", f"{name!r}: {_NOT_CONVERTED}: a shared bottom is an MLP block "
                     "on a feature group")  # fmt: skip
            return []
        keras_mlp(bottom["params"], aitm.bottom_mlp)
        group = bottom["inputs"][0][1]
        used = {name, *towers, *outputs}
    else:
        group, used = name, {*towers, *outputs}
    for tower_name in towers:
        keras_mlp(blocks[tower_name]["params"], aitm.task_towers.add().mlp)
    for name in blocks:
        if name not in used:
            src.fail("blocks", f"block {name!r} is not part of the AITM pattern; remove it")
    return [group]
