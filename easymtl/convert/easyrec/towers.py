"""EasyRec's DNN, TaskTower / BayesTaskTower, losses and metrics → easymtl's.

Meaning as EasyRec's layers/dnn.py and model/multi_task_model.py compute it:
- a DNN is Dense (with bias) → BatchNorm (use_bn, default **true**) → activation
  (default relu) → dropout, per layer; `hidden_units: [0]` is no layer at all;
- a tower's label is label_name, else the label_fields in tower order;
- loss_type CLASSIFICATION is a sigmoid cross entropy (num_class 1) or a softmax cross
  entropy (num_class > 1), averaged over the rows of non-zero weight
  (tf.losses' SUM_BY_NONZERO_WEIGHTS): with out_task_space_weight 0, over the rows in
  the task space;
- a tower reads the sample weight (data_config.sample_weight) unless
  use_sample_weight is false.
"""

from __future__ import annotations

from easymtl.activations import KERAS_ACTIVATIONS
from easymtl.convert.record import Src

LOSS_TYPES = {
    0: "CLASSIFICATION", 1: "L2_LOSS", 2: "SIGMOID_L2_LOSS", 3: "CROSS_ENTROPY_LOSS",
    4: "SOFTMAX_CROSS_ENTROPY", 5: "CIRCLE_LOSS", 6: "MULTI_SIMILARITY_LOSS",
    7: "SOFTMAX_CROSS_ENTROPY_WITH_NEGATIVE_MINING", 8: "PAIR_WISE_LOSS",
    9: "F1_REWEIGHTED_LOSS", 10: "BINARY_FOCAL_LOSS", 11: "PAIRWISE_FOCAL_LOSS",
    12: "PAIRWISE_LOGISTIC_LOSS", 17: "PAIRWISE_HINGE_LOSS", 13: "JRC_LOSS",
    14: "ORDER_CALIBRATE_LOSS", 15: "BINARY_CROSS_ENTROPY_LOSS", 16: "KL_DIVERGENCE_LOSS",
    18: "LISTWISE_RANK_LOSS", 19: "LISTWISE_DISTILL_LOSS", 20: "ZILN_LOSS",
}  # fmt: skip
_GAUC_AVERAGE = {"mean": "macro", "mean_by_sample_num": "weighted"}


def convert_dnn(src: Src | None, mlp) -> bool:
    """Fills easymtl's MLP `mlp` from EasyRec's DNN `src`; False (and `mlp` untouched)
    for a DNN of no layer."""
    if src is None:
        return False
    units = src.get_list("hidden_units", int)
    if units in ([], [0]):
        src.close("no layer (hidden_units [0]): none")
        return False
    mlp.hidden_units.extend(units)
    src.keep("hidden_units")
    dropout = src.get_list("dropout_ratio", float)
    if dropout:
        mlp.dropout_ratio.extend(dropout)
        src.keep("dropout_ratio")
    mlp.use_bn = src.get("use_bn", bool, True)
    if not src.has("use_bn"):
        src.say("use_bn true (EasyRec's default)")
    else:
        src.keep("use_bn")
    mlp.activation = activation(src, src.get("activation", str, "relu"))
    src.close("DNN -> mlp")
    return True


def activation(src: Src, name: str) -> str:
    """A Keras activation name for EasyRec's `name` ("tf.nn.relu", "relu", ...)."""
    key = name.strip().lower()
    for prefix in ("tf.nn.", "tf.math.", "tf."):
        key = key.removeprefix(prefix)
    if key not in KERAS_ACTIVATIONS:
        src.fail("activation", f"{name!r} has no Keras activation; use relu, tanh, sigmoid, ...")
        return "relu"
    if src.has("activation"):
        src.say(f"activation {name!r}" + (f" -> {key!r}" if key != name else ""))
    return key


def convert_tower(
    src: Src, tower, ctx: dict, index: int, bayes: bool = False, calibration: dict | None = None
) -> None:
    """Fills easymtl's TaskTower (or BayesTaskTower, `bayes`) `tower` from EasyRec's
    tower `src`, the `index`-th of its model. `ctx` has the data's ``labels``
    (label_fields in order) and ``sample_weight``."""
    tower.tower_name = src.get("tower_name", keep="tower_name") or f"tower_{index}"
    if src.has("label_name"):
        tower.label_name = src.get("label_name", keep="label_name")
    elif index < len(ctx["labels"]):
        tower.label_name = ctx["labels"][index]
        src.say(f"label_name {tower.label_name!r} (EasyRec: label_fields in tower order)")
    else:
        src.fail("label_name", "more towers than label_fields: give each tower its label_name")
    num_class = src.get("num_class", int, 1)
    if num_class > 1:
        tower.num_class = num_class
        src.keep("num_class")
    if src.has("weight"):
        tower.weight = src.get("weight", float, 1.0, keep="weight")
    mlp = src.msg("dnn", f"{src.target}.mlp", "DNN")
    if convert_dnn(mlp, tower.mlp):
        src.say("dnn -> mlp")
    else:
        tower.ClearField("mlp")
    if bayes:
        tower.relation_tower_names.extend(src.get_list("relation_tower_names"))
        relation = src.msg("relation_dnn", f"{src.target}.relation_mlp", "DNN")
        if convert_dnn(relation, tower.relation_mlp):
            src.say("relation_dnn -> relation_mlp")
        else:
            tower.ClearField("relation_mlp")
            if tower.relation_tower_names:
                src.fail(
                    "relation_dnn",
                    "EasyRec concatenates the related towers as they are; "
                    "easymtl needs a relation_dnn over them",
                )
        if tower.relation_tower_names:
            src.keep("relation_tower_names")
    convert_losses(src, tower, num_class, calibration)
    for metric in src.msgs("metrics_set", f"{src.target}.metrics", "EvalMetrics"):
        convert_metric(metric, tower)
    _task_space(src, tower, ctx)
    if ctx["sample_weight"] and src.get("use_sample_weight", bool, True):
        tower.sample_weight_name = ctx["sample_weight"]
        src.say("sample_weight_name: data_config.sample_weight (EasyRec's use_sample_weight)")
        src.say(
            "the loss is sum(w x loss) / sum(w) (EasyRec: / the number of rows of non-zero weight)",
            differs=True,
        )
    elif src.has("use_sample_weight"):
        src.drop("use_sample_weight", "no sample_weight")


def _task_space(src: Src, tower, ctx: dict) -> None:
    label = src.get("task_space_indicator_label")
    name, value = src.get("task_space_indicator_name"), src.get("task_space_indicator_value")
    if name is not None and value is not None:
        label = f"{tower.tower_name}_task_space"
        ctx["label_transforms"].append((label, name, value))
        src.say(
            f"task_space_indicator_name == value -> label_transforms {label!r} (1 where "
            "the column equals the value)"
        )
    elif name is not None or value is not None:
        src.fail("task_space_indicator_name", "give both its name and its value")
    elif label:
        src.keep("task_space_indicator_label")
    if not label:
        return
    tower.task_space_indicator_label = label
    tower.in_task_space_weight = src.get("in_task_space_weight", float, 1.0)
    tower.out_task_space_weight = src.get("out_task_space_weight", float, 1.0)
    src.keep_if("in_task_space_weight")
    src.keep_if("out_task_space_weight")
    if tower.out_task_space_weight == 0:
        tower.average_over_task_space = True
        src.say(
            "average_over_task_space (EasyRec averages a loss over its rows of non-zero "
            "weight: here the task space's)"
        )
    if tower.out_task_space_weight != 0:
        src.say(
            "the task's loss is divided by the sum of its rows' weights (EasyRec: by the "
            "number of rows of non-zero weight)",
            differs=True,
        )


def convert_losses(src: Src, tower, num_class: int, calibration: dict | None = None) -> None:
    """loss_type, or losses { loss_type weight ... }, → the tower's losses. An
    ORDER_CALIBRATE_LOSS against the towers of ``calibration["related"]`` (AITM's)
    sets ``calibration["weight"]``; without related towers it is none, as in EasyRec."""
    losses = src.msgs("losses", f"{src.target}.losses", "Loss")
    if not losses:
        _loss(src, src.get("loss_type", LOSS_TYPES, "CLASSIFICATION"), tower, num_class, None)
        if src.has("loss_type"):
            src.keep("loss_type", "losses")
        return
    src.drop("loss_type", "losses are given")
    weights = set()
    for loss in losses:
        kind = loss.get("loss_type", LOSS_TYPES, "CLASSIFICATION")
        weight = loss.get("weight", float, 1.0)
        loss.drop("loss_name", "names are easymtl's")
        if loss.get("learn_loss_weight", bool, False):
            loss.fail("learn_loss_weight", "use model_config.loss_weighting { uncertainty {} }")
        if kind == "ORDER_CALIBRATE_LOSS":
            related = (calibration or {}).get("related") or list(
                getattr(tower, "relation_tower_names", [])
            )
            if related and calibration is None:
                loss.fail("loss_type", "an order calibration is converted for AITM only")
            elif related:
                calibration["weight"] = weight
                loss.close(f"ORDER_CALIBRATE_LOSS against {related[0]!r} -> calibrator_weight")
            else:
                loss.close("ORDER_CALIBRATE_LOSS: no relation_tower_names, so none (as in EasyRec)")
            continue
        weights.add(weight)
        _loss(loss, kind, tower, num_class, loss)
        loss.close()
    if len(weights) > 1:
        src.fail("losses", "easymtl adds a tower's losses with one weight; give them equal weights")
    elif weights and weights != {1.0}:
        tower.weight = tower.weight * weights.pop()
        src.say("losses' weight folded into the tower's weight")


def _loss(src: Src, kind: str, tower, num_class: int, params: Src | None) -> None:
    loss = tower.losses.add()
    if kind in ("CLASSIFICATION", "BINARY_CROSS_ENTROPY_LOSS") and num_class == 1:
        loss.binary_cross_entropy.SetInParent()
        src.say(f"{kind} -> binary_cross_entropy")
    elif kind == "CLASSIFICATION":
        loss.softmax_cross_entropy.SetInParent()
        src.say(f"{kind} (num_class {num_class}) -> softmax_cross_entropy")
    elif kind == "L2_LOSS":
        loss.l2_loss.SetInParent()
        src.say("L2_LOSS -> l2_loss")
    elif kind == "BINARY_FOCAL_LOSS":
        focal = params.msg("binary_focal_loss", src.target, "BinaryFocalLoss") if params else None
        loss.binary_focal_loss.gamma = focal.get("gamma", float, 2.0) if focal else 2.0
        alpha = focal.get("alpha", float, None) if focal else None
        loss.binary_focal_loss.alpha = 0.5 if alpha is None else alpha
        if focal is not None:
            for name in ("ohem_ratio", "label_smoothing"):
                if focal.get(name, float, 1.0 if name == "ohem_ratio" else 0.0) not in (0.0, 1.0):
                    focal.fail(name, "not in easymtl's binary_focal_loss; remove it")
            focal.close("-> binary_focal_loss")
        src.say(
            "BINARY_FOCAL_LOSS -> binary_focal_loss"
            + (
                ""
                if alpha is not None
                else " (no alpha in EasyRec: alpha 0.5 weighs both classes "
                "alike, as its loss does up to a factor 2)"
            )
        )
    else:
        src.fail(
            "loss_type",
            f"{kind} is not converted; easymtl's losses are "
            "binary_cross_entropy, softmax_cross_entropy, l2_loss, binary_focal_loss",
        )


def convert_metric(src: Src, tower) -> None:
    """One EvalMetrics → a tower metric (metrics easymtl lacks are dropped, noted)."""
    kind = next((n.name for n in src.fields), None)
    sub = src.msg(kind, src.target, kind) if kind else None
    metric = None
    if kind == "auc":
        metric = tower.metrics.add()
        metric.auc.thresholds = sub.get("num_thresholds", int, 200)
        src.say(
            f"auc: num_thresholds -> thresholds {metric.auc.thresholds} (easymtl spreads "
            "them over logits in [-10, 10], EasyRec over probabilities)",
            differs=True,
        )
    elif kind == "gauc":
        metric = tower.metrics.add()
        metric.grouped_auc.grouping_key = sub.get("uid_field") or ""
        reduction = sub.get("reduction", str, "mean")
        if reduction not in _GAUC_AVERAGE:
            sub.fail(
                "reduction", f"{reduction!r}: easymtl averages by 'mean' or 'mean_by_sample_num'"
            )
        metric.grouped_auc.average = _GAUC_AVERAGE.get(reduction, "macro")
        src.say(
            f"gauc -> grouped_auc: uid_field -> grouping_key, reduction {reduction!r} -> "
            f"average {metric.grouped_auc.average!r}"
        )
    elif kind in ("mean_absolute_error", "mean_squared_error", "accuracy"):
        metric = tower.metrics.add()
        getattr(metric, kind).SetInParent()
        src.say(f"{kind} -> {kind}")
    else:
        src.say(
            f"{kind} dropped: easymtl does not compute it (auc, gauc, mean_absolute_error, "
            "mean_squared_error and accuracy convert)",
            differs=True,
        )
    if sub is not None:
        if metric is None:
            sub.consume()
        sub.close()
    src.close()
