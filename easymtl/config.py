"""Loads a pipeline config (.config protobuf text, .yaml or .json) and validates it.

Loading and validating import no TensorFlow (only protobuf, yaml and the registries'
config sides), so that a bad config or flag fails fast, before TensorFlow loads.

Every problem becomes one :class:`~easymtl.errors.EasymtlError` whose message names the
file, the line (for text configs) and the field, e.g.
``samples/configs/ple.config:57: model_config.ple.extraction_networks[0].share_num: ...``.
"""

from __future__ import annotations

import logging
import os
import re

from google.protobuf import text_format
from google.protobuf.message import Message

from easymtl import config_yaml
from easymtl.activations import activation_name
from easymtl.convert import source_format
from easymtl.data import READERS
from easymtl.data.labels import validate_label_transforms
from easymtl.errors import ConfigError, EasymtlError
from easymtl.features import FEATURES, feature_columns, input_name, table_name
from easymtl.features.init_fn import check_init_fn
from easymtl.features.null_cells import fill_null_defaults
from easymtl.features.sequence_config import validate_sequence_features
from easymtl.features.sequence_groups import rtp_name, validate_group_sequences
from easymtl.features.wide import WIDE_GROUP_TYPE, check_wide_group, check_wide_only
from easymtl.field_names import unknown_field
from easymtl.fusion import check_fusion
from easymtl.lifecycle import check_config as check_lifecycle
from easymtl.losses import loss_columns
from easymtl.metrics import metric_columns
from easymtl.models import MODELS, check_model, model_feature_groups, model_towers
from easymtl.models.rank import RANK_PATH, fill_rank_label
from easymtl.overrides import apply_overrides, is_repeated
from easymtl.precision import check_mixed_precision
from easymtl.protos import data_pb2, pipeline_pb2
from easymtl.torcheasyrec_fields import note_ignored_fields
from easymtl.towers import TOWER_MESSAGES, tower_fields
from easymtl.weighting import check_loss_weighting

PipelineConfig = pipeline_pb2.PipelineConfig
log = logging.getLogger("easymtl")

_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|#[^\n]*|[A-Za-z_][\w.]*|[{}<>\[\]:,]|\S'
)


def load_config(path: str, overrides: list[tuple[str, dict[str, object]]] = ()) -> PipelineConfig:
    """Reads the pipeline config at `path`, applies `overrides`, and validates it.

    Args:
        path: A ``.config`` (protobuf text), ``.yaml``/``.yml`` or ``.json`` file.
        overrides: ``(source, {field path: value})`` pairs applied in order, where
            source names the flag in error messages (see :mod:`easymtl.overrides`).

    Returns:
        The validated PipelineConfig.

    Raises:
        EasymtlError: the file is missing, does not parse, or a field has a bad value.
    """
    if not os.path.isfile(path):
        raise EasymtlError(f"{path}: config file not found")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    config, lines = parse_config_lines(text, path)
    for source, edits in overrides:
        apply_overrides(config, edits, source)
    input_fields_from_schema(config)
    fill_rank_label(config)
    try:
        validate(config)
    except ConfigError as e:
        raise EasymtlError(f"{locate(lines, path, e.field)}: {e}") from None
    note_ignored_fields(config)
    return config


def input_fields_from_schema(config: PipelineConfig) -> None:
    """Fills the empty input_fields of a ParquetDataset with every column of the first
    train file (else eval file), typed by the file schema; a numeric column that only
    features read gets the default_val that gives its null cells TorchEasyRec's meaning
    (:mod:`easymtl.features.null_cells`).

    Raises:
        EasymtlError: naming the path that matches no file or cannot be read.
    """
    data = config.data_config
    if data.dataset_type != data_pb2.ParquetDataset or data.input_fields:
        return
    from easymtl.data.parquet import schema_fields
    from easymtl.data.paths import expand_paths

    for source in ("train_input_path", "eval_input_path"):
        if getattr(config, source).strip():
            path = expand_paths(getattr(config, source), source)[0]
            try:
                data.input_fields.extend(schema_fields(path))
            except EasymtlError as e:
                raise EasymtlError(f"{source}: {e}") from None
            fill_null_defaults(config, data.input_fields)
            return


def parse_config(text: str, path: str) -> PipelineConfig:
    """Parses config text in the format given by `path`'s extension (no validation)."""
    return parse_config_lines(text, path)[0]


def parse_config_lines(text: str, path: str) -> tuple[PipelineConfig, dict[str, int]]:
    """Parses config text in the format given by `path`'s extension (no validation);
    returns the config and the line of each field path the text sets
    (``model_config[0].ple[0].task_towers[1].weight[0]``), for :func:`locate`."""
    config = PipelineConfig()
    ext = os.path.splitext(path)[1].lower()
    if ext in (".yaml", ".yml", ".json"):
        lines = config_yaml.read(text, path, config)
    else:
        if source_format(text, path) == "easyrec":  # EasyRec's format, converted once
            from easymtl.convert.easyrec import convert

            conversion = convert(text, path, validate)
            return conversion.config, conversion.record.field_lines()
        try:
            text_format.Parse(text, config)
        except text_format.ParseError as e:
            # ParseError's message starts with "line:column : ".
            raise EasymtlError(f"{path}:{_explain(_one_line(e)).replace(' : ', ': ', 1)}") from None
        lines = _field_lines(text)
    lines = _drop_unused_without_dim(config, lines, path)
    missing = config.FindInitializationErrors()
    if missing:
        raise EasymtlError(
            f"{locate(lines, path, missing[0])}: {missing[0]}: required field is missing"
        )
    return config, lines


_MISSING_DIM = re.compile(r"feature_configs\[(\d+)\]\.\w+\.embedding_dim$")


def _drop_unused_without_dim(config, lines: dict[str, int], path: str) -> dict[str, int]:
    """Leaves out each feature without its required embedding_dim that nothing in the
    config names (no feature group, no other feature): TorchEasyRec's parser does not
    check required fields and never embeds such a feature, so it means nothing. One info
    line each; returns `lines` with the later features' paths renumbered."""
    unused = []
    for error in config.FindInitializationErrors():
        match = _MISSING_DIM.match(error)
        if match is None:
            continue
        i = int(match.group(1))
        fc = config.feature_configs[i]
        name = getattr(fc, fc.WhichOneof("feature")).feature_name
        rest = PipelineConfig()
        rest.CopyFrom(config)
        del rest.feature_configs[i]
        if name and f'"{name}"' not in text_format.MessageToString(rest):
            unused.append((i, name))
    for i, name in sorted(unused, reverse=True):
        log.info(
            "%s: feature_configs[%d] %r has no embedding_dim and nothing in the config "
            "names it: left out (TorchEasyRec never embeds it)",
            path,
            i,
            name,
        )
        del config.feature_configs[i]
        renumbered = {}
        for key, line in lines.items():
            match = re.match(r"feature_configs\[(\d+)\]", key)
            if match is None or int(match.group(1)) < i:
                renumbered[key] = line
            elif int(match.group(1)) > i:
                j = int(match.group(1)) - 1
                renumbered[f"feature_configs[{j}]" + key[match.end() :]] = line
        lines = renumbered
    return lines


def locate(lines: dict[str, int], path: str, field: str) -> str:
    """Returns ``path:line`` of `field` (a dotted path) by the config's field `lines`
    (:func:`parse_config_lines`), else ``path``."""
    parts = field.split(".")
    # The deepest prefix of the path that the text spells out (a default has no line).
    for n in range(len(parts), 0, -1):
        key = ".".join(p if p.endswith("]") else p + "[0]" for p in parts[:n])
        if key in lines:
            return f"{path}:{lines[key]}"
    return path


def _field_lines(text: str) -> dict[str, int]:
    """Maps each field path in protobuf text (``a[0].b[2].c[0]``) to its line number."""
    lines: dict[str, int] = {}
    stack: list[tuple[str, dict[str, int]]] = [("", {})]
    tokens = [(m.group(), text.count("\n", 0, m.start()) + 1) for m in _TOKEN.finditer(text)]
    tokens = [t for t in tokens if not t[0].startswith("#")]
    for i, (tok, line) in enumerate(tokens):
        nxt = tokens[i + 1][0] if i + 1 < len(tokens) else ""
        if tok in ("}", ">"):
            if len(stack) > 1:
                stack.pop()
            continue
        if not re.match(r"[A-Za-z_]", tok) or nxt not in (":", "{", "<"):
            continue
        if i > 0 and tokens[i - 1][0] == ":":
            continue  # an enum value such as `group_type: DEEP`
        prefix, counts = stack[-1]
        index = counts.get(tok, 0)
        counts[tok] = index + 1
        key = f"{prefix}{tok}[{index}]"
        lines.setdefault(key, line)
        after = tokens[i + 2][0] if nxt == ":" and i + 2 < len(tokens) else nxt
        if after in ("{", "<"):
            stack.append((key + ".", {}))
    return lines


_UNKNOWN_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "(\w+)"')


def _explain(message: str) -> str:
    """A parse error about an unknown field, said plainly (:func:`unknown_field`)."""
    match = _UNKNOWN_FIELD.search(message)
    if match is None:
        return message
    full_name, name = match.groups()
    what = unknown_field(pipeline_pb2.DESCRIPTOR.pool.FindMessageTypeByName(full_name), name)
    at = re.search(r' at "([\w.]+)"', message[match.end() :])
    return message[: match.start()] + what + (f" (in {at.group(1)})" if at else "")


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


# ---------------------------------------------------------------------------- validation


def validate(config: PipelineConfig) -> None:
    """Checks what the schema alone cannot: names that must match, values that must be
    positive, and fields easymtl does not support.

    Raises:
        ConfigError: naming the first bad field.
    """
    data = config.data_config
    _validate_data(data)
    _validate_sample_weights(data)
    fields = {f.input_name for f in data.input_fields}
    protos, tables = _validate_features(config, fields)
    sequences = validate_sequence_features(config, fields, protos, tables)
    _validate_references(config)
    model = config.model_config
    if not model.feature_groups:
        raise ConfigError("model_config.feature_groups", "at least one feature group is needed")
    group_names: set[str] = set()
    sequence_groups: set[str] = set()
    # The groups as the model builds them (multi_tower_din adds its DIN encoders).
    for i, group in enumerate(model_feature_groups(model)):
        where = f"model_config.feature_groups[{i}]"
        if group.group_name in group_names:
            raise ConfigError(f"{where}.group_name", f"duplicate group name {group.group_name!r}")
        group_names.add(group.group_name)
        if group.group_type not in (0, 1, 2):  # DEEP, WIDE, SEQUENCE
            raise ConfigError(
                f"{where}.group_type",
                "only DEEP, WIDE and SEQUENCE feature groups are supported by easymtl",
            )
        if not group.feature_names and not group.sequence_groups:
            raise ConfigError(f"{where}.feature_names", "a feature group needs features")
        for j, name in enumerate(group.feature_names):
            if name not in protos:
                raise ConfigError(
                    f"{where}.feature_names[{j}]",
                    rtp_name(name, protos)
                    or f"unknown feature {name!r}; expected one of feature_configs' feature_name",
                )
        if group.group_type == WIDE_GROUP_TYPE:
            check_wide_group(group, where, sequences, protos)
        else:
            validate_group_sequences(group, where, protos, sequences, sequence_groups)
    kind = model.WhichOneof("model")
    if kind is None:
        raise ConfigError("model_config", "no model given: expected e.g. `ple { ... }`")
    MODELS.entry(kind)  # a oneof field without a registration is a bug: fail loudly
    check_wide_only(model, kind)
    if model.train_metrics and getattr(model, kind).DESCRIPTOR.fields_by_name.get("task_towers"):
        raise ConfigError(
            "model_config.train_metrics",
            "a multi-task model's train metrics are its task towers' train_metrics",
        )
    for name in ("embedding_regularization", "l2_regularization"):
        if not 0 <= getattr(model, name) < float("inf"):
            raise ConfigError(
                f"model_config.{name}", f"must be a finite number >= 0, got {getattr(model, name)}"
            )
    _validate_message(getattr(model, kind), f"model_config.{kind}", data)
    # The model's own checks (a ranker's: also of the groups it reads) and its towers'
    # losses, metrics and sample spaces (what building the tasks checks); then the loss
    # weighting's, which names towers.
    task_types = check_model(model, config.feature_configs)
    if MODELS.entry(kind).check_config is not None:
        MODELS.entry(kind).check_config(model, data)
    _validate_loss_features(model, kind, feature_columns(config.feature_configs))
    towers = [t for _, t in model_towers(model)]
    for path, tower in model_towers(model):
        if path == RANK_PATH:  # a single-task ranker's task, of model_config's fields
            _validate_tower(tower, path, data)
    check_loss_weighting(model, [t.tower_name for t in towers], [t.weight for t in towers])
    _validate_train(config.train_config)
    check_fusion(model, data, task_types)
    check_lifecycle(config)


def _validate_loss_features(model, kind: str, columns: dict[str, str]) -> None:
    """A loss that names a feature (jrc_loss's session_name) names an id or raw feature."""
    for where, tower in model_towers(model):
        for i, loss in enumerate(tower.losses):
            for name in loss_columns(loss) if loss.WhichOneof("loss") else ():
                if name not in columns:
                    field = f"{where}.losses[{i}].{loss.WhichOneof('loss')}"
                    raise ConfigError(
                        field,
                        f"names feature {name!r}, which is not an id_feature or raw_feature "
                        "of feature_configs",
                    )


def _validate_data(data) -> None:
    csv = data.dataset_type == data_pb2.CsvDataset
    name = data_pb2.DatasetType.Name(data.dataset_type)
    if name not in READERS:
        raise ConfigError(
            "data_config.dataset_type",
            f"{name} is not supported; expected {' or '.join(READERS)}",
        )
    if not data.input_fields:
        raise ConfigError(
            "data_config.input_fields",
            "the columns of the input files are needed"
            + ("" if csv else " (or a train_input_path or eval_input_path to read them from)"),
        )
    seen: set[str] = set()
    for i, field in enumerate(data.input_fields):
        if field.input_name in seen:
            raise ConfigError(
                f"data_config.input_fields[{i}].input_name", f"duplicate field {field.input_name!r}"
            )
        seen.add(field.input_name)
        kind = data_pb2.FieldType.Name(field.input_type)
        if csv and kind.startswith("ARRAY_"):
            raise ConfigError(
                f"data_config.input_fields[{i}].input_type",
                f"{kind} is for ParquetDataset list columns; in CSV a list is a STRING that "
                "an id_feature's separator splits",
            )
        if field.HasField("default_val") and not kind.endswith("STRING"):
            try:
                float(field.default_val)
            except ValueError:
                raise ConfigError(
                    f"data_config.input_fields[{i}].default_val",
                    f"{field.default_val!r} is not a number",
                ) from None
    if not data.label_fields:
        raise ConfigError("data_config.label_fields", "at least one label field is needed")
    derived = validate_label_transforms(data)
    for i, label in enumerate(data.label_fields):
        if label not in seen and label not in derived:
            raise ConfigError(
                f"data_config.label_fields[{i}]",
                f"{label!r} is not one of data_config.input_fields or label_transforms",
            )
    for name in ("batch_size", "eval_batch_size", "num_workers", "shuffle_buffer_size"):
        if data.HasField(name) and getattr(data, name) == 0:
            raise ConfigError(f"data_config.{name}", "must be positive")
    if not data.delimiter:
        raise ConfigError("data_config.delimiter", "must not be empty")
    if csv and (len(data.delimiter.encode()) != 1 or data.delimiter in '"\r\n'):
        raise ConfigError(
            "data_config.delimiter",
            f"{data.delimiter!r}: expected one ASCII character other than a quote or a line "
            "break, such as ',' or '\\t'",
        )
    fraction = data.max_bad_row_fraction
    if not 0 <= fraction <= 1:
        raise ConfigError(
            "data_config.max_bad_row_fraction", f"must be in [0, 1], got {fraction:g}"
        )
    for name in ("int_default_val", "float_default_val"):
        value = getattr(data, name)
        try:
            number = float(value)
        except ValueError:
            number = None
        if data.HasField(name) and (
            number is None or (name == "int_default_val" and number != int(number))
        ):
            kind = "an integer" if name == "int_default_val" else "a number"
            raise ConfigError(f"data_config.{name}", f"{value!r} is not {kind}")


def _validate_features(config: PipelineConfig, fields: set[str]) -> tuple[dict, dict]:
    """Each feature's own checks, and the names, input columns and tables of the kinds
    that are not sequences (:func:`validate_sequence_features` checks theirs).

    Returns:
        ``(protos, tables)``: the features' messages by name, and ``(rows, dim, feature
        name)`` of each embedding table by table name.
    """
    protos: dict[str, object] = {}
    tables: dict[str, tuple[int, int, str]] = {}
    for i, fc in enumerate(config.feature_configs):
        kind = fc.WhichOneof("feature")
        where = f"feature_configs[{i}]"
        if kind is None:
            raise ConfigError(
                where, f"expected one of {', '.join(f'{k} {{ ... }}' for k in FEATURES)}"
            )
        feature = getattr(fc, kind)
        where = f"{where}.{kind}"
        entry = FEATURES.entry(kind)
        if entry.sequence:
            entry.check(feature, where)
            check_init_fn(feature, where)
            continue
        if feature.feature_name in protos:
            raise ConfigError(
                f"{where}.feature_name", f"duplicate feature name {feature.feature_name!r}"
            )
        protos[feature.feature_name] = feature
        _validate_inputs(entry, feature, where, fields)
        if entry.check is not None:
            entry.check(feature, where)
        check_init_fn(feature, where)
        shape = entry.table(feature) if entry.table is not None else None
        if shape is not None:
            _validate_table(table_name(feature), shape, feature.feature_name, where, tables)
    return protos, tables


def _validate_inputs(entry, feature, where: str, fields: set[str]) -> None:
    """Every column `feature` reads is an input field."""
    if entry.inputs is not None:
        inputs = entry.inputs(feature)
    else:
        what = "expression" if feature.HasField("expression") else "feature_name"
        inputs = [(what, input_name(feature))]
    for what, field in inputs:
        if field not in fields:
            raise ConfigError(
                f"{where}.{what}",
                f"reads input field {field!r}, which is not in data_config.input_fields",
            )


def _validate_table(table: str, shape: tuple, name: str, where: str, tables: dict) -> None:
    """Features sharing embedding table `table` agree on its (rows, dim) `shape`."""
    first = tables.setdefault(table, (*shape, name))
    if tuple(first[:2]) != tuple(shape):
        raise ConfigError(
            f"{where}.embedding_name",
            f"shares table {table!r} of {first[0]} rows x {first[1]} dims but needs "
            f"{shape[0]} x {shape[1]}",
        )


def _validate_references(config: PipelineConfig) -> None:
    """The checks of features that name other features (e.g. sequence_match_feature's
    query and sequence), once every feature is known."""
    for i, fc in enumerate(config.feature_configs):
        kind = fc.WhichOneof("feature")
        references = FEATURES.entry(kind).references
        if references is not None:
            references(getattr(fc, kind), f"feature_configs[{i}].{kind}", config.feature_configs)


_COUNT_FIELDS = ("num_expert", "expert_num_per_task")


def _validate_message(msg: Message, where: str, data) -> None:
    """Generic checks on a model's sub-message: every MLP, expert count and task tower
    (in `task_towers`, or a single TaskTower field such as ESMM's `ctr_tower`)."""
    if hasattr(msg, "task_towers") and not msg.task_towers:
        raise ConfigError(f"{where}.task_towers", "at least one task tower is needed")
    names: set[str] = set()
    for tw, tower in tower_fields(msg, where):
        if tower.tower_name in names:
            raise ConfigError(f"{tw}.tower_name", f"duplicate tower name {tower.tower_name!r}")
        names.add(tower.tower_name)
        _validate_tower(tower, tw, data)
    for field, value in msg.ListFields():
        path = f"{where}.{field.name}"
        if field.name in _COUNT_FIELDS and value == 0:
            raise ConfigError(path, "must be positive")
        if field.name == "gate_temperature" and not value > 0:
            raise ConfigError(path, f"must be positive, got {value:g}")
        if field.name == "gate_dropout_ratio" and not 0 <= value < 1:
            raise ConfigError(path, f"must be in [0, 1), got {value:g}")
        if field.message_type is None:
            continue
        repeated = is_repeated(field)
        for i, item in enumerate(value if repeated else [value]):
            sub = f"{path}[{i}]" if repeated else path
            if field.message_type.name == "MLP":
                _validate_mlp(item, sub)
            elif field.message_type.name not in TOWER_MESSAGES:
                _validate_message(item, sub, data)
            else:  # a tower's mlp, and DBMTL's relation_mlp
                for tower_field, mlp in item.ListFields():
                    if tower_field.message_type and tower_field.message_type.name == "MLP":
                        _validate_mlp(mlp, f"{sub}.{tower_field.name}")


def _validate_tower(tower, where: str, data) -> None:
    """The checks of one TaskTower that need the data config (the rest are
    :func:`easymtl.towers.check_tower`'s)."""
    labels = set(data.label_fields)
    if where != RANK_PATH and not re.fullmatch(r"[A-Za-z0-9_]+", tower.tower_name):
        raise ConfigError(f"{where}.tower_name", "use letters, digits and '_' only")
    for name in ("label_name", "task_space_indicator_label"):
        value = getattr(tower, name)
        if (name == "label_name" or value) and value not in labels:
            raise ConfigError(
                f"{where}.{name}",
                f"{value!r} is not one of data_config.label_fields ({', '.join(sorted(labels))})",
            )
    if tower.sample_weight_name and tower.sample_weight_name not in data.sample_weight_fields:
        raise ConfigError(
            f"{where}.sample_weight_name",
            f"{tower.sample_weight_name!r} is not one of data_config.sample_weight_fields "
            f"({', '.join(data.sample_weight_fields) or 'none given'})",
        )
    if not tower.losses:
        raise ConfigError(f"{where}.losses", "at least one loss is needed")
    inputs = {f.input_name for f in data.input_fields}
    for i, metric in enumerate(tower.metrics):
        for column in metric_columns(metric) if metric.WhichOneof("metric") else ():
            if column not in inputs:
                name = metric.WhichOneof("metric")
                raise ConfigError(
                    f"{where}.metrics[{i}].{name}",
                    f"reads input field {column!r}, which is not in data_config.input_fields",
                )
    if tower.weight < 0:
        raise ConfigError(f"{where}.weight", f"must not be negative, got {tower.weight}")


def _validate_sample_weights(data) -> None:
    fields = {f.input_name: f for f in data.input_fields}
    for i, name in enumerate(data.sample_weight_fields):
        where = f"data_config.sample_weight_fields[{i}]"
        if fields and name not in fields:
            raise ConfigError(where, f"{name!r} is not one of data_config.input_fields")
        if name in fields and fields[name].input_type == data_pb2.STRING:
            raise ConfigError(where, f"{name!r} is a STRING field; a sample weight is a number")


def _validate_mlp(mlp, where: str) -> None:
    if not mlp.hidden_units:
        raise ConfigError(f"{where}.hidden_units", "must not be empty")
    if 0 in mlp.hidden_units:
        raise ConfigError(f"{where}.hidden_units", "every layer needs at least one unit")
    if len(mlp.dropout_ratio) not in (0, 1, len(mlp.hidden_units)):
        raise ConfigError(
            f"{where}.dropout_ratio", "give one value, or one per layer of hidden_units"
        )
    if any(not 0 <= r < 1 for r in mlp.dropout_ratio):
        raise ConfigError(f"{where}.dropout_ratio", "each value must be in [0, 1)")
    try:
        activation_name(mlp.activation, layers=True)
    except ValueError as e:
        raise ConfigError(f"{where}.activation", str(e)) from None
    try:
        activation_name(mlp.final_activation or mlp.activation, layers=True)
    except ValueError as e:
        raise ConfigError(f"{where}.final_activation", str(e)) from None


def _validate_train(train) -> None:
    for name in ("sparse_optimizer", "dense_optimizer", "wide_optimizer"):
        opt = getattr(train, name)
        if train.HasField(name) and opt.WhichOneof("optimizer") is None:
            raise ConfigError(f"train_config.{name}", "expected e.g. adam_optimizer { lr: 0.001 }")
        if opt.HasField("exponential_decay_learning_rate"):
            lr = opt.exponential_decay_learning_rate
            where = f"train_config.{name}.exponential_decay_learning_rate"
            if lr.by_epoch:
                raise ConfigError(f"{where}.by_epoch", "decay by epoch is not supported yet")
            if not lr.decay_size:
                raise ConfigError(f"{where}.decay_size", "must be positive")
    for name in (
        "num_steps",
        "num_epochs",
        "save_checkpoints_epochs",
        "log_step_count_steps",
    ):
        if train.HasField(name) and getattr(train, name) == 0:
            raise ConfigError(f"train_config.{name}", "must be positive")
    _check_collapse_warning(train.collapse_warning)
    check_mixed_precision(train.mixed_precision)
    for name in ("sparse_optimizer", "wide_optimizer"):
        kind = getattr(train, name).WhichOneof("optimizer")
        options = getattr(getattr(train, name), kind) if kind else None
        if options is not None and options.gradient_clipping and not options.max_gradient > 0:
            raise ConfigError(
                f"train_config.{name}.{kind}.max_gradient",
                f"must be positive with gradient_clipping, got {options.max_gradient:g}",
            )
    clipping = train.grad_clipping
    where = "train_config.grad_clipping"
    if clipping.clipping_type not in ("none", "norm", "value"):
        raise ConfigError(
            f"{where}.clipping_type",
            f"{clipping.clipping_type!r} is not a clipping type; expected 'norm', 'value' or "
            "'none'",
        )
    if not clipping.max_gradient > 0:
        raise ConfigError(f"{where}.max_gradient", f"must be positive, got {clipping.max_gradient}")
    if clipping.norm_type != 2:
        raise ConfigError(
            f"{where}.norm_type", f"only 2 (L2 norm) is supported, got {clipping.norm_type:g}"
        )


def _check_collapse_warning(warning, where: str = "train_config.collapse_warning") -> None:
    """Raises ConfigError unless a CollapseWarning message's values are in range."""
    if warning.HasField("patience_steps") and warning.patience_steps == 0:
        raise ConfigError(f"{where}.patience_steps", "must be positive")
    if not 0.0 <= warning.min_loss_gain < 1.0:
        raise ConfigError(
            f"{where}.min_loss_gain", f"must be in [0, 1), got {warning.min_loss_gain:g}"
        )
    if not 0.5 <= warning.min_auc <= 1.0:
        raise ConfigError(f"{where}.min_auc", f"must be in [0.5, 1], got {warning.min_auc:g}")
