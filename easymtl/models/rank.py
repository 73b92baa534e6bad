"""The config side of the single-task rankers (deepfm, dcn_v2, ...; rank_model.proto).

A ranker learns one label, as TorchEasyRec's RankModel: its task is built from
model_config's own `losses`, `metrics` and `num_class`, its label is model_config's
`label_name` (filled in from data_config.label_fields[0] when the config is loaded) and
its sample weight `sample_weight_name` (data_config.sample_weight_fields[0]). That
implicit task is a TaskTower message like any tower's, at field path "model_config" (so
that its errors name `model_config.losses[0]`, ...), named "" so that its outputs and
metrics carry no suffix: ``logits``, ``probs`` (``probs1`` with two classes), ``y``,
``auc``, as TorchEasyRec names them. Training, evaluation, export and the lifecycle see
an ordinary task.

A ranker is registered in MODELS with ``rank=True``; its builder is ``build(sub-message,
groups, num_class) -> layer``, where `groups` describes the feature groups
(:class:`GroupInfo`) and the layer maps ``{group name: tensor}`` to ``{tower: logits}``
(see :class:`easymtl.models.rank_model.RankModel`). Optional facts: ``inputs(sub-message,
where, groups)``, the checks of the groups it reads (run at validation, before
TensorFlow); ``wide_dim(sub-message)``, the width of each feature's wide embedding where
it reads a WIDE group itself (deepfm: wide_embedding_dim); ``wide_fields``, True where
those wide embeddings are multiplied together (xdeepfm's CIN reads them as fields): then
without a wide_init_fn each starts as its feature's table does, TorchEasyRec's default,
not at zero (a product of zeros gets no gradient, and the CIN would never learn);
``tower_name``, the name of its task (rocket_launching: "light");
``feature_groups(sub-message, groups) -> groups``, the feature groups the model builds
(multi_tower_din adds its DIN encoders).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from easymtl.errors import ConfigError

# The field path of a ranker's implicit task: its TaskTower fields are model_config's.
RANK_PATH = "model_config"
# ModelConfig's fields that only single-task rankers read.
RANK_FIELDS = ("losses", "metrics", "num_class", "label_name", "sample_weight_name")

WIDE = 1  # FeatureGroupType.WIDE
SEQUENCE = 2  # FeatureGroupType.SEQUENCE


@dataclass
class GroupInfo:
    """What a ranker's builder and checks know of one feature group.

    Args:
        name: The group name.
        group_type: 0 DEEP, 1 WIDE, 2 SEQUENCE.
        features: Its feature names, in order.
        widths: Each feature's output width: the embedding_dim of an embedded feature,
            the value width of a dense one, None where not known without building it.
        embedded: Whether each feature is embedded (looked up in a table).
        encoders: Its number of sequence encoders (their outputs follow the features).
    """

    name: str
    group_type: int = 0
    features: list[str] = field(default_factory=list)
    widths: list[int | None] = field(default_factory=list)
    embedded: list[bool] = field(default_factory=list)
    encoders: int = 0

    @property
    def is_wide(self) -> bool:
        return self.group_type == WIDE


def is_ranker(model_config) -> bool:
    """Whether the model of `model_config` is a single-task ranker."""
    from easymtl.models import MODELS

    kind = model_config.WhichOneof("model")
    return kind is not None and bool(MODELS.entry(kind).rank)


def implicit_tower(model_config, tower_name: str = ""):
    """The TaskTower message of a ranker's task: model_config's losses, metrics,
    num_class, label_name and sample_weight_name, named `tower_name`."""
    from easymtl.protos import tower_pb2

    tower = tower_pb2.TaskTower(tower_name=tower_name, label_name=model_config.label_name)
    tower.losses.extend(model_config.losses)
    tower.metrics.extend(model_config.metrics)
    tower.train_metrics.extend(model_config.train_metrics)
    tower.num_class = model_config.num_class
    if model_config.sample_weight_name:
        tower.sample_weight_name = model_config.sample_weight_name
    return tower


def fill_rank_label(config) -> None:
    """Fills a ranker's unset model_config.label_name with data_config.label_fields[0]
    and its sample_weight_name with data_config.sample_weight_fields[0] (if any), as
    TorchEasyRec's RankModel reads them."""
    model, data = config.model_config, config.data_config
    if not is_ranker(model):
        return
    if not model.label_name and data.label_fields:
        model.label_name = data.label_fields[0]
    if not model.HasField("sample_weight_name") and data.sample_weight_fields:
        model.sample_weight_name = data.sample_weight_fields[0]


def check_rank_fields(model_config) -> None:
    """Raises ConfigError where a multi-task model sets a ranker's fields, or a ranker
    sets what only multi-task models have (a fused score, a loss weighting)."""
    kind = model_config.WhichOneof("model")
    if is_ranker(model_config):
        for name in ("fusion", "loss_weighting"):
            if model_config.HasField(name):
                raise ConfigError(
                    f"{RANK_PATH}.{name}",
                    f"combines the towers of a multi-task model; {kind} learns one label",
                )
        if not model_config.label_name:
            raise ConfigError(
                f"{RANK_PATH}.label_name",
                f"{kind} learns one label: set label_name or data_config.label_fields",
            )
        return
    for name in RANK_FIELDS:
        if name in ("losses", "metrics"):
            given = len(getattr(model_config, name)) > 0
        else:
            given = model_config.HasField(name)
        if given:
            raise ConfigError(
                f"{RANK_PATH}.{name}",
                f"is a single-task ranker's field (deepfm, dcn_v2, ...); {kind} sets it per "
                "tower, in its task_towers",
            )


def feature_width(feature_config) -> tuple[int | None, bool]:
    """(output width or None, embedded) of one FeatureConfig, from its config alone."""
    from easymtl.features import FEATURES

    kind = feature_config.WhichOneof("feature")
    proto = getattr(feature_config, kind)
    entry = FEATURES.entry(kind)
    if entry.sequence or kind == "sequence_match_feature":
        return None, False
    table = entry.table
    shape = table(proto) if table is not None else None
    if shape is not None:
        return int(shape[1]), True
    # A dense value embedded by a layer of its own (mlp, autodis): embedding_dim wide.
    fields = proto.DESCRIPTOR.fields_by_name
    if any(name in fields and proto.HasField(name) for name in ("mlp", "autodis")):
        return int(proto.embedding_dim), True
    if "value_dim" in proto.DESCRIPTOR.fields_by_name:
        return max(int(proto.value_dim), 1), False
    return None, False


def group_infos(model_config, feature_configs, groups=None) -> dict[str, GroupInfo]:
    """:class:`GroupInfo` of each feature group (`groups`, default model_config's),
    in order."""
    widths = {}
    for fc in feature_configs:
        kind = fc.WhichOneof("feature")
        proto = getattr(fc, kind) if kind is not None else None
        # A sequence_feature's sub-features (<sequence_name>__x) are sequences: unknown.
        if proto is not None and "feature_name" in proto.DESCRIPTOR.fields_by_name:
            widths[proto.feature_name] = feature_width(fc)
    infos = {}
    for g in model_config.feature_groups if groups is None else groups:
        names = list(g.feature_names)
        infos[g.group_name] = GroupInfo(
            name=g.group_name,
            group_type=g.group_type,
            features=names,
            widths=[widths.get(n, (None, False))[0] for n in names],
            embedded=[widths.get(n, (None, False))[1] for n in names],
            encoders=len(g.sequence_encoders),
        )
    return infos


# ----------------------------------------------------------- checks the rankers share


def need_group(groups: dict[str, GroupInfo], name: str, kind: str, what: str) -> GroupInfo:
    """The group `name`; ConfigError if missing."""
    if name not in groups:
        raise ConfigError(
            f"{RANK_PATH}.feature_groups",
            f"{kind} reads a feature group named {name!r} ({what}); the groups are "
            f"{', '.join(map(repr, groups)) or 'none'}",
        )
    return groups[name]


def need_type(group: GroupInfo, group_type: int, kind: str, where: str) -> None:
    names = {0: "DEEP", WIDE: "WIDE", SEQUENCE: "SEQUENCE"}
    if group.group_type != group_type:
        raise ConfigError(
            where,
            f"{kind} reads group {group.name!r} as a {names[group_type]} group; it is "
            f"{names.get(group.group_type, group.group_type)}",
        )


def group_path(groups: dict[str, GroupInfo], name: str) -> str:
    return f"{RANK_PATH}.feature_groups[{list(groups).index(name)}]"


def field_dim(group: GroupInfo, groups: dict[str, GroupInfo], kind: str, role: str) -> int:
    """The one embedding_dim of every feature of `group`, whose embeddings `kind` reads
    as fields (its `role`); ConfigError naming the first feature that is not embedded,
    or embedded with another dimension."""
    where = group_path(groups, group.name)
    if group.encoders:
        raise ConfigError(
            f"{where}.sequence_encoders",
            f"{kind} reads group {group.name!r} as fields ({role}); sequence encoders' outputs "
            "are not fields",
        )
    dims: list[int] = []
    for j, (name, width, embedded) in enumerate(zip(group.features, group.widths, group.embedded)):
        if not embedded or width is None:
            raise ConfigError(
                f"{where}.feature_names[{j}]",
                f"{name!r} is not an embedded feature; {kind} reads group {group.name!r} as "
                f"fields ({role}): every feature embedded with one embedding_dim",
            )
        if dims and width != dims[0]:
            raise ConfigError(
                f"{where}.feature_names[{j}]",
                f"{name!r} has embedding_dim {width} but {group.features[0]!r} {dims[0]}; "
                f"{kind} reads group {group.name!r} as fields ({role}) of one embedding_dim",
            )
        dims.append(width)
    if len(dims) < 1:
        raise ConfigError(f"{where}.feature_names", "needs features")
    return dims[0]


def only_groups(
    groups: dict[str, GroupInfo], read: list[str], kind: str, wide_read: bool = False
) -> None:
    """ConfigError on a group the ranker does not read, where TorchEasyRec would leave it
    out silently; WIDE groups are the first-order term added to the logits, unless the
    ranker reads a WIDE group itself (`wide_read`), then they must be that one."""
    for i, (name, group) in enumerate(groups.items()):
        if name in read:
            continue
        if group.is_wide and not wide_read:
            continue
        raise ConfigError(
            f"{RANK_PATH}.feature_groups[{i}]",
            f"{kind} does not read group {name!r} (it reads {', '.join(map(repr, read))}); "
            "remove it, or merge its features into a group it reads",
        )


def first_group(groups: dict[str, GroupInfo], kind: str) -> GroupInfo:
    """The one non-WIDE group of a ranker that reads one group (TorchEasyRec reads the
    first and leaves the others out; easymtl refuses the others)."""
    deep = [g for g in groups.values() if not g.is_wide]
    if not deep:
        raise ConfigError(f"{RANK_PATH}.feature_groups", f"{kind} needs a DEEP feature group")
    only_groups(groups, [deep[0].name], kind)
    return deep[0]


def mlp_units(mlp) -> int:
    """The output width of an MLP message."""
    return int(mlp.hidden_units[-1])


_INIT_FNS = {
    # TorchEasyRec's init function → (Keras initializer class, {torch arg: keras arg}).
    "nn.init.zeros_": ("Zeros", {}),
    "nn.init.ones_": ("Ones", {}),
    "nn.init.constant_": ("Constant", {"val": "value"}),
    "nn.init.uniform_": ("RandomUniform", {"a": "minval", "b": "maxval"}),
    "nn.init.normal_": ("RandomNormal", {"mean": "mean", "std": "stddev"}),
}
_INIT_DEFAULTS = {
    "nn.init.uniform_": {"a": 0.0, "b": 1.0},
    "nn.init.normal_": {"mean": 0.0, "std": 1.0},
}


def wide_initializer(text: str, where: str, unset: str | None = "zeros") -> dict | str | None:
    """The Keras initializer (an identifier keras.initializers.get takes) of a
    TorchEasyRec init function such as "nn.init.uniform_,a=-0.01,b=0.01"; `unset` for
    an empty one (None: each wide table starts as its feature's table).

    Raises:
        ConfigError: an init function or argument easymtl does not know.
    """
    if not text:
        return unset
    name, *args = [p.strip() for p in text.split(",")]
    if name not in _INIT_FNS:
        raise ConfigError(
            where, f"{name!r} is not one of the supported init functions {', '.join(_INIT_FNS)}"
        )
    cls, names = _INIT_FNS[name]
    values = dict(_INIT_DEFAULTS.get(name, {}))
    for arg in args:
        key, _, value = arg.partition("=")
        if key.strip() not in names:
            raise ConfigError(
                where,
                f"{name} takes {', '.join(names) or 'no arguments'}; got {key.strip()!r}",
            )
        try:
            values[key.strip()] = float(value)
        except ValueError:
            raise ConfigError(where, f"{arg!r}: the value is not a number") from None
    if name == "nn.init.constant_" and "val" not in values:
        raise ConfigError(where, "nn.init.constant_ needs val=<number>")
    return {"class_name": cls, "config": {names[k]: v for k, v in values.items()}}
