"""EasyRec's train_config (TrainConfig) → easymtl's: the optimizer pair, steps,
checkpoints and logging.

Meaning as EasyRec's model/easy_rec_estimator.py and builders/optimizer_builder.py
apply it: one optimizer_config is one TensorFlow 1 optimizer over every variable,
embeddings included, whose rate embedding_learning_rate_multiplier scales for the
embedding tables; two are [embedding tables, other variables]
(EasyRecModel.get_grouped_vars). easymtl always has that pair: sparse_optimizer (the
tables, row-wise) and dense_optimizer.
"""

from __future__ import annotations

from easymtl.convert.record import Src

_RATES = ("constant_learning_rate", "exponential_decay_learning_rate")
# TensorFlow 1 optimizers by EasyRec's oneof name: (dense kind, sparse kind, what differs
# on the embedding tables in easymtl's row-wise version, or "").
_OPTIMIZERS = {
    "adam_optimizer": ("adam_optimizer", "adam_optimizer",
                       "easymtl's row-wise Adam is lazy: only the rows a batch touched move "
                       "(TensorFlow 1's Adam decays every row's moments each step)"),
    "lazy_adam_optimizer": ("adam_optimizer", "adam_optimizer", ""),
    "adagrad_optimizer": ("adagrad_optimizer", "adagrad_optimizer", ""),
    "momentum_optimizer": ("sgd_optimizer", "sgd_optimizer",
                           "easymtl's row-wise SGD has no momentum"),
    "adamw_optimizer": ("adamw_optimizer", "adam_optimizer",
                        "easymtl's row-wise Adam is lazy and has no weight decay"),
    "momentumw_optimizer": ("sgd_optimizer", "sgd_optimizer",
                            "easymtl's row-wise SGD has no momentum and no weight decay"),
}  # fmt: skip


def convert_train(src: Src, train, ctx: dict) -> None:
    """Fills easymtl's TrainConfig `train` from EasyRec's train_config `src`. `ctx` has
    ``num_epochs`` (data_config's) and ``loss_scale`` (the batch size where EasyRec sums
    the losses over the batch, else 1)."""
    optimizers = src.msgs("optimizer_config", "train_config", "Optimizer")
    if len(optimizers) == 1:
        _optimizer(optimizers[0], train, ctx, ("dense_optimizer", "sparse_optimizer"))
    elif len(optimizers) == 2:
        _optimizer(optimizers[0], train, ctx, ("sparse_optimizer",))
        _optimizer(optimizers[1], train, ctx, ("dense_optimizer",))
        src.say(
            "two optimizer_configs: [embedding tables, the rest] (EasyRec's variable "
            "groups) -> sparse_optimizer, dense_optimizer"
        )
    else:
        src.fail("optimizer_config", "give one optimizer_config (or two: embeddings, the rest)")
    steps = src.get("num_steps", int, 0)
    if steps:
        train.num_steps = steps
        src.keep("num_steps")
    if ctx["num_epochs"]:
        train.num_epochs = ctx["num_epochs"]
    if not steps and not ctx["num_epochs"]:
        src.fail(
            "num_steps",
            "EasyRec trains until stopped without num_steps or data_config.num_epochs; set one",
        )
    train.save_checkpoints_steps = src.get("save_checkpoints_steps", int, 1000)
    src.keep_if("save_checkpoints_steps")
    train.keep_checkpoint_max = src.get("keep_checkpoint_max", int, 10)
    src.say(
        f"keep_checkpoint_max {train.keep_checkpoint_max}"
        + ("" if src.has("keep_checkpoint_max") else " (EasyRec's default)")
    )
    train.log_step_count_steps = src.get("log_step_count_steps", int, 10)
    src.say(
        f"log_step_count_steps {train.log_step_count_steps}"
        + ("" if src.has("log_step_count_steps") else " (EasyRec's default)")
    )
    clip = src.get("gradient_clipping_by_norm", float, 0.0)
    if clip > 0:
        train.grad_clipping.clipping_type = "norm"
        train.grad_clipping.max_gradient = clip
        src.say(
            "gradient_clipping_by_norm -> grad_clipping norm (easymtl clips the dense "
            "gradients; EasyRec all of them)",
            differs=True,
        )
    if src.get("force_restore_shape_compatible", bool, False):
        train.force_restore_shape_compatible = True
        src.keep("force_restore_shape_compatible")
    if src.get("fine_tune_checkpoint", str, ""):
        src.fail(
            "fine_tune_checkpoint",
            "an EasyRec (TensorFlow 1) checkpoint's variables are "
            "not easymtl's; remove it, or warm start from an easymtl checkpoint",
        )
    src.drop("fine_tune_ckpt_var_map", "no fine_tune_checkpoint")
    for name, why in (
        ("sync_replicas", "easymtl's workers always step in sync (all-reduce)"),
        ("startup_delay_steps", "workers start together"),
        ("sparse_accumulator_type", "PAI-TF's"),
        ("save_summary_steps", "summaries are written every log_step_count_steps"),
        ("save_checkpoints_secs", "easymtl saves by steps"),
        ("train_distribute", "easymtl's distribution comes from TF_CONFIG"),
        ("num_gpus_per_worker", "easymtl's distribution comes from TF_CONFIG"),
        ("protocol", "PAI-TF's"),
        ("inter_op_parallelism_threads", "TensorFlow chooses"),
        ("intra_op_parallelism_threads", "TensorFlow chooses"),
        ("tensor_fuse", "PAI-TF's"),
        ("write_graph", "no graph file in TensorFlow 2"),
        ("is_profiling", "profile with TensorBoard's profiler"),
        ("summary_model_vars", "not written by easymtl"),
        ("enable_oss_stop_signal", "OSS is Alibaba Cloud's"),
    ):
        src.drop(name, why)
    for name in ("freeze_gradient", "incr_save_config", "dead_line"):
        if src.has(name):
            src.nodes(name)
            src.fail(name, "not in easymtl; remove it")
    src.close()


def _optimizer(src: Src, train, ctx: dict, slots: tuple[str, ...]) -> None:
    kind = next((n.name for n in src.fields if n.name in _OPTIMIZERS), None)
    if kind is None:
        other = next((n.name for n in src.fields if n.name.endswith("_optimizer")), None)
        src.fail(
            other or "optimizer_config",
            f"{other or 'no optimizer'}: easymtl.convert reads {', '.join(_OPTIMIZERS)}",
        )
        src.consume()
        src.close()
        return
    dense_kind, sparse_kind, differs = _OPTIMIZERS[kind]
    opt = src.msg(kind, "train_config", kind)
    rate = opt.msg("learning_rate", "train_config", "LearningRate")
    lr, schedule = _rate(rate, src) if rate is not None else (0.002, None)
    if rate is None:
        opt.fail("learning_rate", "EasyRec needs the optimizer's learning_rate")
    multiplier = src.get("embedding_learning_rate_multiplier", float, 1.0)
    scale = ctx["loss_scale"]
    params = {
        "beta1": opt.get("beta1", float, 0.9),
        "beta2": opt.get("beta2", float, 0.999),
        "momentum": opt.get("momentum_optimizer_value", float, 0.9),
        "initial_accumulator_value": opt.get("initial_accumulator_value", float, 0.1),
        "weight_decay": opt.get("weight_decay", float, 1e-6),
    }
    for slot in slots:
        target = getattr(train, slot)
        sparse = slot == "sparse_optimizer"
        m = multiplier if sparse and len(slots) == 2 else 1.0
        inner = getattr(target, sparse_kind if sparse else dense_kind)
        inner.SetInParent()
        # Momentum SGD is not invariant to the loss's scale: a summed loss is a larger rate.
        inner.lr = lr * m * (scale if kind.startswith("momentum") else 1)
        for name in ("beta1", "beta2", "momentum"):
            if hasattr(inner, name):
                setattr(inner, name, params[name])
        if kind == "adagrad_optimizer":
            # Adagrad is invariant to the loss's scale but for its initial accumulator.
            inner.initial_accumulator_value = params["initial_accumulator_value"] / scale**2
        if kind.endswith("w_optimizer") and not sparse:
            inner.weight_decay = params["weight_decay"] / lr
        if schedule is not None:
            target.exponential_decay_learning_rate.CopyFrom(schedule)
            decay = target.exponential_decay_learning_rate
            decay.warmup_learning_rate *= m
            decay.min_learning_rate *= m
        else:
            target.constant_learning_rate.SetInParent()
    opt.close()
    if rate is not None:
        rate.close()
    both = " (one optimizer on every variable)" if len(slots) == 2 else ""
    src.say(f"{kind} -> {' and '.join(slots)}{both}")
    if len(slots) == 2 and multiplier != 1.0:
        src.say(
            f"embedding_learning_rate_multiplier {multiplier:g}: sparse_optimizer's rate x "
            f"{multiplier:g}"
        )
    if "sparse_optimizer" in slots and differs:
        src.say(differs, differs=True)
    if kind.endswith("w_optimizer"):
        src.say(
            "weight_decay / lr -> weight_decay (Keras multiplies it by the rate; "
            "TensorFlow 1's AdamW does not)",
            differs=bool(schedule),
        )
    if scale > 1:
        src.say(
            f"EasyRec sums this model's losses over the batch ({scale} rows): easymtl "
            "averages them, with "
            + (
                "the rate x batch_size"
                if kind.startswith("momentum")
                else "Adagrad's initial accumulator / batch_size^2"
                if kind == "adagrad_optimizer"
                else "the same steps (Adam is invariant to the loss's scale)"
            )
        )
    if src.get("use_moving_average", bool, False):
        src.fail(
            "use_moving_average", "moving averages of the weights are not in easymtl; remove it"
        )
    src.drop("use_moving_average", "false")
    src.drop("moving_average_decay", "no moving average")
    src.close()


def _rate(src: Src, note: Src):
    """(peak lr, ExponentialDecayLR message or None) of EasyRec's LearningRate `src`,
    noted in `note`."""
    from easymtl.protos import optimizer_pb2

    kind = next((n.name for n in src.fields), None)
    if kind not in _RATES:
        src.fail(kind or "learning_rate", f"{kind}: easymtl.convert reads {', '.join(_RATES)}")
        src.consume()
        return 0.002, None
    sub = src.msg(kind, "train_config", kind)
    if kind == "constant_learning_rate":
        lr = sub.get("learning_rate", float, 0.002)
        sub.close()
        note.say(f"constant_learning_rate {lr:g} -> lr, constant_learning_rate")
        return lr, None
    lr = sub.get("initial_learning_rate", float, 0.002)
    decay = optimizer_pb2.ExponentialDecayLR(
        decay_size=sub.get("decay_steps", int, 4000000),
        decay_factor=sub.get("decay_factor", float, 0.95),
        staircase=sub.get("staircase", bool, True),
        min_learning_rate=sub.get("min_learning_rate", float, 0.0),
    )
    burnin_steps = sub.get("burnin_steps", int, 0)
    burnin = sub.get("burnin_learning_rate", float, 0.0)
    if burnin_steps:
        decay.warmup_size = burnin_steps
        # EasyRec's burn-in at rate 0 is the peak rate held; else a ramp from it.
        decay.warmup_learning_rate = burnin if burnin else lr
    sub.close()
    note.say(
        f"exponential_decay_learning_rate: initial_learning_rate {lr:g} -> lr; decay_steps -> "
        "decay_size, decay_factor, staircase, min_learning_rate; burnin_steps -> warmup_size, "
        "burnin_learning_rate -> warmup_learning_rate (EasyRec's 0: the rate held at lr)"
    )
    return lr, decay
