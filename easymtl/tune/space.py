"""The search space of a study: a YAML file mapping config field paths to distributions.

A key is a field path as ``--edit_config_json`` takes it (:mod:`easymtl.overrides`); a
value is one of::

    train_config.dense_optimizer.adam_optimizer.lr: {type: float, low: 1e-4, high: 1e-2, log: true}
    model_config.mmoe.num_expert: {type: int, low: 2, high: 8}
    model_config.mmoe.expert_mlp.hidden_units: {type: categorical, choices: [[64], [128, 64]]}
    feature_configs[feature_name=user_id].id_feature.embedding_dim: [8, 16, 32]

(a bare list is a categorical). `float` and `int` take `low`, `high`, and optionally
`log` (needs low > 0) or `step`. The whole space is checked against the config before
any trial: every path must exist, and `low`, `high` and every choice must give a valid
config.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass

import yaml
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from easymtl.errors import ConfigError, EasymtlError

_SETTINGS = {
    "float": ("type", "low", "high", "log", "step"),
    "int": ("type", "low", "high", "log", "step"),
    "categorical": ("type", "choices"),
}
_INTEGER = (
    FieldDescriptor.CPPTYPE_INT32,
    FieldDescriptor.CPPTYPE_INT64,
    FieldDescriptor.CPPTYPE_UINT32,
    FieldDescriptor.CPPTYPE_UINT64,
)
_REAL = (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE)
_EXAMPLE = "model_config.mmoe.num_expert: {type: int, low: 2, high: 8}"


@dataclass(frozen=True)
class Param:
    """One searched config field.

    Args:
        path: The field path (see :mod:`easymtl.overrides`).
        kind: ``float``, ``int`` or ``categorical``.
        low: Lower bound (float and int).
        high: Upper bound, included (float and int).
        log: Sample on a log scale.
        step: Sample only low + k · step.
        choices: The values of a categorical (scalars, lists or mappings).
    """

    path: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    @property
    def labels(self) -> tuple:
        """The choices as the search library stores them: scalars as they are, any
        list or mapping as JSON text (then every choice is JSON text)."""
        if all(c is None or isinstance(c, (bool, int, float, str)) for c in self.choices):
            return self.choices
        return tuple(json.dumps(c) for c in self.choices)

    def suggest(self, trial) -> object:
        """The value an Optuna `trial` picks for this field."""
        if self.kind == "float":
            low, high, log, step = self.low, self.high, self.log, self.step
            return trial.suggest_float(self.path, low, high, log=log, step=step)
        if self.kind == "int":
            low, high, log, step = self.low, self.high, self.log, self.step or 1
            return trial.suggest_int(self.path, low, high, log=log, step=step)
        label = trial.suggest_categorical(self.path, self.labels)
        return self.choices[self.labels.index(label)]

    def bounds(self) -> list:
        """The values to check before the study: both ends of a range, every choice."""
        return list(self.choices) if self.kind == "categorical" else [self.low, self.high]


def load_search_space(path: str, config: Message) -> list[Param]:
    """Reads and checks the search space file at `path` against `config`.

    Raises:
        EasymtlError: ``<path>: <key>: ...`` for the first key that does not fit.
    """
    from easymtl.config import validate
    from easymtl.overrides import apply_overrides, field_at

    if not os.path.isfile(path):
        raise EasymtlError(f"{path}: search space file not found")
    with open(path, encoding="utf-8") as f:
        try:
            space = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise EasymtlError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(space, dict) or not space:
        raise EasymtlError(
            f"{path}: expected a mapping of config field paths to distributions, e.g. {_EXAMPLE}"
        )
    params = [_param(f"{path}: {key}", str(key), spec) for key, spec in space.items()]
    for param in params:
        where = f"{path}: {param.path}"
        field = field_at(config, param.path, where)
        _check_type(param, field, where)
        for value in param.bounds():
            trial = type(config)()
            trial.CopyFrom(config)
            apply_overrides(trial, {param.path: value}, where)
            try:
                validate(trial)
            except ConfigError as e:
                why = e.message if e.field == param.path else str(e)
                raise EasymtlError(f"{where}: {json.dumps(value)}: {why}") from None
    return params


def _param(where: str, key: str, spec: object) -> Param:
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, dict):
        raise EasymtlError(
            f"{where}: expected a distribution such as {{type: float, low: 1e-4, "
            f"high: 1e-2, log: true}} or a list of choices, got {spec!r}"
        )
    kind = spec.get("type")
    if kind not in _SETTINGS:
        raise EasymtlError(f"{where}: type: expected float, int or categorical, got {kind!r}")
    for name in spec:
        if name not in _SETTINGS[kind]:
            known = ", ".join(_SETTINGS[kind][1:])
            raise EasymtlError(f"{where}: unknown setting {name!r} (settings of {kind}: {known})")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise EasymtlError(f"{where}: choices: expected a non-empty list, got {choices!r}")
        return Param(key, kind, choices=tuple(choices))
    low, high = (_number(where, name, spec.get(name), kind) for name in ("low", "high"))
    if not low < high:
        raise EasymtlError(f"{where}: low must be below high, got low {low}, high {high}")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise EasymtlError(f"{where}: log: expected true or false, got {log!r}")
    if log and low <= 0:
        raise EasymtlError(f"{where}: log: needs low > 0, got low {low}")
    step = None
    if "step" in spec:
        if log:
            raise EasymtlError(f"{where}: step: cannot be combined with log: true")
        step = _number(where, "step", spec["step"], kind)
        if step <= 0:
            raise EasymtlError(f"{where}: step: must be positive, got {step}")
    return Param(key, kind, low=low, high=high, log=log, step=step)


def _number(where: str, name: str, value: object, kind: str) -> float | int:
    # YAML reads 1e-4 (no dot) as text: take numbers written either way.
    number = None
    if not isinstance(value, bool):
        with contextlib.suppress(TypeError, ValueError):
            number = float(value)
    if number is None:
        raise EasymtlError(f"{where}: {name}: expected a number, got {value!r}")
    if kind == "int":
        if number != int(number):
            raise EasymtlError(f"{where}: {name}: expected an integer, got {value!r}")
        return int(number)
    return number


def _check_type(param: Param, field: FieldDescriptor, where: str) -> None:
    if param.kind == "categorical":
        return
    if field.cpp_type not in _INTEGER + _REAL:
        raise EasymtlError(
            f"{where}: type: {param.kind} needs a number field, this one is not a number; "
            "use type: categorical"
        )
    if param.kind == "float" and field.cpp_type in _INTEGER:
        raise EasymtlError(f"{where}: type: float does not fit an integer field; use type: int")
