"""EasyRec's pipeline config (EasyRecConfig, protobuf text) → easymtl's PipelineConfig.

EasyRec's text is read with :mod:`easymtl.convert.textproto`, without EasyRec's
``.proto`` files: every field is converted by the module of its part (data, features,
models with their towers, train) and noted, or refused with a line that says what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# feature_kinds registers each kind's converter into features.FEATURE_TYPES, rankers
# each ranker's into models.MODELS.
from easymtl.convert.easyrec import feature_kinds, rankers  # noqa: F401
from easymtl.convert.easyrec.data import convert_data, convert_paths
from easymtl.convert.easyrec.features import convert_feature, feature_name
from easymtl.convert.easyrec.models import convert_model
from easymtl.convert.easyrec.towers import convert_metric
from easymtl.convert.easyrec.train import convert_train
from easymtl.convert.record import Note, Record, Src
from easymtl.convert.textproto import parse
from easymtl.errors import ConfigError, EasymtlError
from easymtl.protos import pipeline_pb2, tower_pb2

# Fields only EasyRec's pipeline config has (any of them makes a file EasyRec's).
MARKERS = {
    "top": {"feature_config", "kafka_train_input", "datahub_train_input", "hive_train_input",
            "parquet_train_input", "fg_json_path"},
    "model_config": {"model_class"},
    "data_config": {"input_type"},
    "train_config": {"optimizer_config"},
    "feature_configs": {"feature_type", "input_names"},
}  # fmt: skip


@dataclass
class Conversion:
    """A converted config, what became of each source field, and the source lines."""

    config: pipeline_pb2.PipelineConfig
    record: Record

    @property
    def notes(self) -> list[Note]:
        return self.record.notes


def is_easyrec(nodes) -> bool:
    """Whether parsed top-level `nodes` are EasyRec's pipeline config."""
    for node in nodes:
        if node.name in MARKERS["top"]:
            return True
        names = {child.name for child in node.fields or []}
        if names & MARKERS.get(node.name, set()):
            return True
    return False


def convert(text: str, path: str, validate: Callable | None = None) -> Conversion:
    """Converts EasyRec's pipeline config `text` (read from `path`).

    Args:
        text: The config's text.
        path: Where it was read (for the error lines).
        validate: easymtl's validation (:func:`easymtl.config.validate`, which the
            caller passes: config.py, which loads through this converter, sits below
            nothing here), run on the converted config with its errors located at their
            EasyRec lines; None converts without validating.

    Raises:
        EasymtlError: ``path:line: field: what to do`` for the first field that cannot
            be converted (and how many more there are), or for a converted field that
            easymtl's validation refuses, located at its EasyRec line.
    """
    record = Record(path)
    top = Src(record, None, "", "", "EasyRecConfig")
    top.fields, top.line = parse(text, path), 1
    config = pipeline_pb2.PipelineConfig()
    parquet = convert_paths(top, config)
    config.model_dir = top.get("model_dir", keep="model_dir") or ""
    if not config.model_dir:
        top.fail("model_dir", "EasyRec's required model_dir is missing")
    data = top.msg("data_config", "data_config", "DatasetConfig")
    info = convert_data(
        data or Src(record, None, "data_config", "data_config", ""), config.data_config, parquet
    )
    ctx = {
        "batch_size": info["batch_size"],
        "labels": list(config.data_config.label_fields),
        "sample_weight": info["sample_weight"],
        "label_transforms": [],
    }
    model = top.msg("model_config", "model_config", "EasyRecModel")
    if model is None:
        top.fail("model_config", "EasyRec's required model_config is missing")
        record.raise_refusals(_HOW)
    result = convert_model(model, config.model_config, ctx)
    for label, column, value in ctx["label_transforms"]:
        transform = config.data_config.label_transforms.add(label_name=label, input_name=column)
        transform.equals = value
        config.data_config.label_fields.append(label)
    _convert_features(top, config, result["groups"])
    train = top.msg("train_config", "train_config", "TrainConfig")
    ctx.update(num_epochs=info["num_epochs"], loss_scale=result["loss_scale"])
    convert_train(
        train or Src(record, None, "train_config", "train_config", ""), config.train_config, ctx
    )
    _convert_eval(top.msg("eval_config", "eval_config", "EvalConfig"), config, result["rank"])
    _convert_export(top.msg("export_config", "export_config", "ExportConfig"), config)
    top.close()
    record.raise_refusals(_HOW)
    if validate is not None:
        _validate(validate, config, record)
    return Conversion(config, record)


_HOW = "python -m easymtl.convert --from easyrec"


def _convert_features(top: Src, config, groups: dict[str, list[str]]) -> None:
    used = {name for names in groups.values() for name in names}
    sources = top.msgs("feature_configs", "feature_configs", "FeatureConfig")
    v2 = top.msg("feature_config", "feature_configs", "FeatureConfigV2")
    if v2 is not None:
        sources += v2.msgs("features", "feature_configs", "FeatureConfig")
        v2.drop("embedding_on_cpu", "TensorFlow places the tables")
    if sources and v2 is not None and top.has("feature_configs"):
        top.fail("feature_configs", "give feature_configs or feature_config, not both")
    for src in sources:
        name = feature_name(src)
        if name not in used:
            src.consume()
            src.close(
                f"{name!r} dropped: in no feature group the model reads (EasyRec skips it too)"
            )
            continue
        src.target = f"feature_configs[{len(config.feature_configs)}]"
        out = config.feature_configs.add()
        shared = src.get_list("shared_names")
        convert_feature(src, out)
        for other in shared:  # EasyRec copies the feature for each of its shared_names
            copy = config.feature_configs.add()
            copy.CopyFrom(out)
            msg = getattr(copy, copy.WhichOneof("feature"))
            msg.feature_name = other
            msg.expression = other
    if v2 is not None:
        v2.close()


def _convert_eval(src: Src | None, config, rank: bool) -> None:
    """eval_config; a ranker's metrics are its metrics_set."""
    config.eval_config.SetInParent()
    target = "model_config.metrics" if rank else "eval_config"
    metrics = src.msgs("metrics_set", target, "EvalMetrics") if src else []
    if rank:
        task = tower_pb2.TaskTower()
        for metric in metrics:
            convert_metric(metric, task)
        config.model_config.metrics.extend(task.metrics)
    if src is None:
        return
    for metric in metrics if not rank else []:
        metric.consume()
        metric.close("dropped: a multi-task model's metrics are its towers' metrics_set")
    if src.get("num_examples", int, 0):
        src.fail(
            "num_examples",
            "easymtl evaluates by batches: set eval_config.num_steps "
            "after converting, and remove num_examples",
        )
    for name, why in (
        ("eval_interval_secs", "easymtl evaluates at the end of training (or every "
         "eval_interval_steps)"),
        ("max_evals", "the continuous evaluator's"),
        ("save_graph", "no graph file in TensorFlow 2"),
        ("eval_online", "easymtl evaluates after training"),
    ):  # fmt: skip
        src.drop(name, why)
    src.close()


def _convert_export(src: Src | None, config) -> None:
    export = config.export_config
    if src is None:
        export.exporter_type = "final"
        return
    export.exporter_type = src.get("exporter_type", str, "final")
    if export.exporter_type not in ("final", "latest", "best", "none"):
        src.fail("exporter_type", "easymtl's exporters are final, latest, best and none")
    src.say(f"exporter_type {export.exporter_type!r}")
    if src.has("best_exporter_metric"):
        export.best_exporter_metric = src.get("best_exporter_metric", keep="best_exporter_metric")
    if src.has("metric_bigger"):
        export.metric_larger_is_better = src.get("metric_bigger", bool, True)
        src.keep("metric_bigger", "metric_larger_is_better")
    if src.get("enable_early_stop", bool, False):
        export.enable_early_stop = True
        src.keep("enable_early_stop")
    if src.has("max_check_steps"):
        export.max_check_steps = src.get("max_check_steps", int, keep="max_check_steps")
    if src.has("exports_to_keep"):
        export.exports_to_keep = src.get("exports_to_keep", int, keep="exports_to_keep")
    for name, why in (
        ("batch_size", "the SavedModel takes any batch"),
        ("multi_placeholder", "the SavedModel takes one input per raw column"),
        ("placeholder_named_by_input", "inputs are named by column"),
        ("filter_inputs", "the SavedModel takes the columns its features read"),
        ("multi_value_fields", "list columns are read by their feature"),
        ("auto_multi_value", "list columns are read by their feature"),
        ("export_features", "not in easymtl's SavedModel"),
        ("export_rtp_outputs", "RTP is PAI's"),
        ("asset_files", "the SavedModel holds its vocabularies"),
    ):
        src.drop(name, why)
    for name in ("early_stop_func", "early_stop_params"):
        if src.has(name):
            src.nodes(name)
            src.fail(name, "custom early stopping functions are not in easymtl; remove it")
    src.close()


def _validate(validate: Callable, config, record: Record) -> None:
    try:
        validate(config)
    except ConfigError as e:
        raise EasymtlError(f"{record.locate(e.field)}: (converted to easymtl's {e})") from None
