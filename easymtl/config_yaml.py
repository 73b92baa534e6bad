"""YAML and JSON pipeline configs, read with the line of every field.

The file is a mapping of PipelineConfig fields (protobuf's JSON mapping: a message is a
mapping, a repeated field a list, an enum its name; the lowerCamelCase JSON names work
too). Each key is checked against the schema as the file is walked, so a mistake is said
as a .config's would be, with the file, line and column: an unknown field as
``x.yaml:57:9: TaskTower has no field 'label_nme'; did you mean label_name? (see ...)``,
a bad value as ``x.json:12:20: train_config.num_steps: expected an integer, got 'abc'``.
The lines found (``model_config[0].mmoe[0].task_towers[1].weight[0]`` → line) let the
validation errors that follow name the line too (:func:`easymtl.config.locate`).

Imports no TensorFlow.
"""

from __future__ import annotations

import difflib
import json

import yaml
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from easymtl.errors import EasymtlError
from easymtl.field_names import unknown_field
from easymtl.overrides import is_repeated


def read(text: str, path: str, config) -> dict[str, int]:
    """Parses YAML or JSON `text` (by `path`'s extension) into the empty message
    `config`; returns the line of each field path.

    Raises:
        EasymtlError: ``path:line:column: ...`` for text that is not YAML or JSON, or a
            field or value that does not fit the schema.
    """
    kind = "JSON" if path.lower().endswith(".json") else "YAML"
    try:
        data = json.loads(text) if kind == "JSON" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as e:
        raise EasymtlError(f"{path}: not valid {kind}: {' '.join(str(e).split())}") from None
    if not isinstance(data, dict):
        raise EasymtlError(f"{path}: expected a mapping of pipeline config fields at the top")
    try:
        # JSON is YAML too: its node tree gives each key's line (a JSON file that YAML
        # 1.1 does not read, which is rare, is checked the same without lines).
        root = yaml.compose(text)
    except yaml.YAMLError:
        root = None
    lines: dict[str, int] = {}
    _Walk(path, lines).message(data, root, config.DESCRIPTOR, "", "")
    try:
        json_format.ParseDict(data, config)
    except json_format.ParseError as e:  # what the walk does not check
        raise EasymtlError(f"{path}: {' '.join(str(e).split())}") from None
    return lines


class _Walk:
    """Walks a config's values beside its YAML nodes, recording lines, raising on the
    first field or value the schema does not take."""

    def __init__(self, path: str, lines: dict[str, int]):
        self.path = path
        self.lines = lines

    def at(self, node) -> str:
        if node is None:
            return self.path
        return f"{self.path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"

    def line(self, key: str, node) -> None:
        if node is not None:
            self.lines.setdefault(key, node.start_mark.line + 1)

    def message(self, data: dict, node, descriptor: Descriptor, prefix: str, key: str) -> None:
        """Checks a message's mapping `data` (its YAML `node`); `prefix` is its field path
        as errors show it (``model_config.ple.``), `key` as the lines are keyed
        (``model_config[0].ple[0].``)."""
        nodes: dict[str, tuple] = {}
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value in nodes:
                    raise EasymtlError(
                        f"{self.at(key_node)}: {prefix}{key_node.value}: given twice"
                    )
                nodes[key_node.value] = (key_node, value_node)
        by_json_name = {f.json_name: f for f in descriptor.fields}
        for name, value in data.items():
            key_node, value_node = nodes.get(str(name), (None, None))
            field = descriptor.fields_by_name.get(name) or by_json_name.get(name)
            if field is None:
                raise EasymtlError(f"{self.at(key_node)}: {unknown_field(descriptor, str(name))}")
            where, at = prefix + field.name, key + field.name
            if _is_map(field) or not is_repeated(field):
                self.line(f"{at}[0]", key_node)
                self.value(field, value, value_node or key_node, where, f"{at}[0]")
                continue
            if not isinstance(value, list):
                raise EasymtlError(
                    f"{self.at(value_node or key_node)}: {where}: a repeated field: expected a "
                    f"list ([...]), got {_shown(value)}"
                )
            items = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
            for i, item in enumerate(value):
                item_node = items[i] if i < len(items) else key_node
                self.line(f"{at}[{i}]", item_node)
                self.value(field, item, item_node, f"{where}[{i}]", f"{at}[{i}]")

    def value(self, field: FieldDescriptor, value, node, where: str, key: str) -> None:
        """Checks one value of `field` (an element, for a repeated field) at field path
        `where` (line key `key`)."""
        if _is_map(field):
            if not isinstance(value, dict):
                raise EasymtlError(f"{self.at(node)}: {where}: expected a mapping, got {value!r}")
            _parse_alone(field, value, self.at(node), where)
        elif field.message_type is not None:
            if value is None:  # `eval_config:` with nothing after it: the defaults
                return
            if not isinstance(value, dict):
                raise EasymtlError(
                    f"{self.at(node)}: {where}: expected a mapping of "
                    f"{field.message_type.name} fields, got {_shown(value)}"
                )
            self.message(value, node, field.message_type, f"{where}.", f"{key}.")
        elif field.enum_type is not None:
            names = list(field.enum_type.values_by_name)
            if not (value in names or (isinstance(value, int) and not isinstance(value, bool))):
                close = difflib.get_close_matches(str(value), names, n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise EasymtlError(
                    f"{self.at(node)}: {where}: expected one of {', '.join(names)}, got "
                    f"{_shown(value)}{hint}"
                )
            _parse_alone(field, value, self.at(node), where)
        else:
            _parse_alone(field, value, self.at(node), where)


_KINDS = {
    FieldDescriptor.CPPTYPE_INT32: "an integer",
    FieldDescriptor.CPPTYPE_INT64: "an integer",
    FieldDescriptor.CPPTYPE_UINT32: "an integer >= 0",
    FieldDescriptor.CPPTYPE_UINT64: "an integer >= 0",
    FieldDescriptor.CPPTYPE_FLOAT: "a number",
    FieldDescriptor.CPPTYPE_DOUBLE: "a number",
    FieldDescriptor.CPPTYPE_BOOL: "true or false",
    FieldDescriptor.CPPTYPE_STRING: "a string",
    FieldDescriptor.CPPTYPE_ENUM: "an enum value",
}


def _parse_alone(field: FieldDescriptor, value, at: str, where: str) -> None:
    """Parses `value` as `field` of an empty message, raising with the place."""
    message = message_factory.GetMessageClass(field.containing_type)()
    try:
        json_format.ParseDict({field.name: [value] if is_repeated(field) else value}, message)
    except json_format.ParseError:
        if field.message_type is not None:  # a map's values
            raise EasymtlError(f"{at}: {where}: not a {field.name} mapping: {value!r}") from None
        expected = _KINDS.get(field.cpp_type, "a value of its type")
        raise EasymtlError(f"{at}: {where}: expected {expected}, got {_shown(value)}") from None


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _shown(value) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)
