"""Command-line edits of a pipeline config: ``{"train_config.num_steps": 10, ...}``.

A path is dotted field names; a repeated field takes an index (``task_towers[1]``) or a
selector matching a field of the element or of its oneof sub-message
(``feature_configs[feature_name=price].raw_feature.boundaries``). A value is a scalar
(or its string form, as a flag gives it), a list (or JSON list) for a repeated field, or
a dict (JSON object, or protobuf text) for a message, which is merged.
"""

from __future__ import annotations

import json
import re

from google.protobuf import json_format, text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from easymtl.errors import EasymtlError
from easymtl.field_names import unknown_field

_SEGMENT = re.compile(r"^([A-Za-z_]\w*)(?:\[([^\]]*)\])?$")


def apply_overrides(config: Message, edits: dict[str, object], source: str) -> None:
    """Applies `edits` (path → value) to `config` in place.

    Raises:
        EasymtlError: naming `source` (the flag) and the path that does not fit.
    """
    for path, value in edits.items():
        try:
            _apply(config, path, value)
        except _ERRORS as e:
            raise _error(source, path, e) from None


def field_at(config: Message, path: str, source: str) -> FieldDescriptor:
    """The descriptor of the field that `path` names in `config` (the last segment's
    field; a selector on it is checked too).

    Raises:
        EasymtlError: naming `source` and the path, as :func:`apply_overrides` does.
    """
    try:
        segments = path.split(".")
        msg = config
        for segment in segments[:-1]:
            msg = _step(msg, segment)
        name, selector = _split(segments[-1], msg)
        if selector is not None:
            _select(msg, name, selector)
        return msg.DESCRIPTOR.fields_by_name[name]
    except _ERRORS as e:
        raise _error(source, path, e) from None


_ERRORS = (ValueError, KeyError, TypeError, json_format.ParseError, text_format.ParseError)


def _error(source: str, path: str, e: Exception) -> EasymtlError:
    where = source if source.endswith(path) else f"{source}: {path}"
    return EasymtlError(f"{where}: {' '.join(str(e.args[0]).split())}")


def parse_json(text: str, source: str) -> dict[str, object]:
    """The edits of an ``--edit_config_json`` value."""
    try:
        edits = json.loads(text)
    except json.JSONDecodeError as e:
        raise EasymtlError(f"{source}: not valid JSON: {e}") from None
    if not isinstance(edits, dict):
        raise EasymtlError(f'{source}: expected a JSON object such as {{"a.b": 1}}')
    return edits


def _apply(config: Message, path: str, value: object) -> None:
    segments = path.split(".")
    msg = config
    for segment in segments[:-1]:
        msg = _step(msg, segment)
    name, selector = _split(segments[-1], msg)
    field = msg.DESCRIPTOR.fields_by_name[name]
    if selector is not None:
        msg = _select(msg, name, selector)
        if field.message_type is None:
            raise ValueError("select a message, not a scalar")
        _merge(msg, value)
        return
    if is_repeated(field):
        if not isinstance(value, list):
            value = (
                json.loads(value) if isinstance(value, str) and value.startswith("[") else [value]
            )
        msg.ClearField(name)
        for item in value:
            if field.message_type is not None:
                _merge(getattr(msg, name).add(), item)
            else:
                getattr(msg, name).append(_scalar(field, item))
    elif field.message_type is not None:
        _merge(getattr(msg, name), value)
    else:
        setattr(msg, name, _scalar(field, value))


def _step(msg: Message, segment: str) -> Message:
    name, selector = _split(segment, msg)
    field = msg.DESCRIPTOR.fields_by_name[name]
    if field.message_type is None:
        raise ValueError(f"{name} is not a message")
    if is_repeated(field):
        if selector is None:
            raise ValueError(f"{name} is repeated: say which one, e.g. {name}[0]")
        return _select(msg, name, selector)
    return getattr(msg, name)


def _split(segment: str, msg: Message) -> tuple[str, str | None]:
    match = _SEGMENT.match(segment)
    if not match:
        raise ValueError(f"bad path segment {segment!r}")
    name, selector = match.groups()
    if name not in msg.DESCRIPTOR.fields_by_name:
        raise ValueError(unknown_field(msg.DESCRIPTOR, name))
    return name, selector


def _select(msg: Message, name: str, selector: str) -> Message:
    items = getattr(msg, name)
    if "=" not in selector:
        index = int(selector)
        if not -len(items) <= index < len(items):
            raise ValueError(f"{name} has {len(items)} entries, no [{index}]")
        return items[index]
    key, wanted = (s.strip() for s in selector.split("=", 1))
    for item in items:
        for candidate in _with_oneofs(item):
            if (
                key in candidate.DESCRIPTOR.fields_by_name
                and str(getattr(candidate, key)) == wanted
            ):
                return item
    raise ValueError(f"no entry of {name} has {key} = {wanted!r}")


def _with_oneofs(msg: Message):
    """`msg`, then the set sub-message of each of its oneofs."""
    yield msg
    for oneof in msg.DESCRIPTOR.oneofs:
        which = msg.WhichOneof(oneof.name)
        if which:
            yield getattr(msg, which)


def _merge(msg: Message, value: object) -> None:
    if isinstance(value, str) and value.lstrip().startswith("{"):
        value = json.loads(value)
    if isinstance(value, dict):
        json_format.ParseDict(value, msg)
    elif isinstance(value, str):
        text_format.Merge(value, msg)
    else:
        raise TypeError(f"expected an object for {msg.DESCRIPTOR.name}, got {value!r}")


def _scalar(field: FieldDescriptor, value: object):
    if field.type == FieldDescriptor.TYPE_STRING:
        return str(value)
    if field.type == FieldDescriptor.TYPE_BOOL:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false", "1", "0"):
            return str(value).lower() in ("true", "1")
        raise ValueError(f"expected true or false, got {value!r}")
    if field.type == FieldDescriptor.TYPE_ENUM:
        names = field.enum_type.values_by_name
        if str(value) in names:
            return names[str(value)].number
        raise ValueError(f"expected one of {', '.join(names)}, got {value!r}")
    if field.cpp_type in (FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE):
        return float(value)
    number = float(value) if isinstance(value, str) else value
    if isinstance(number, bool) or number != int(number):
        raise ValueError(f"expected an integer, got {value!r}")
    if int(number) < 0 and field.cpp_type in (
        FieldDescriptor.CPPTYPE_UINT32,
        FieldDescriptor.CPPTYPE_UINT64,
    ):
        raise ValueError(f"must not be negative, got {value!r}")
    return int(number)


def is_repeated(field: FieldDescriptor) -> bool:
    """Whether a field is repeated (FieldDescriptor.label is gone in protobuf 7)."""
    if hasattr(field, "is_repeated"):
        return field.is_repeated
    return field.label == field.LABEL_REPEATED
