"""Writes a converted PipelineConfig as protobuf text, each note of the conversion as a
comment above the field it concerns."""

from __future__ import annotations

import io
import textwrap

from google.protobuf import text_format
from google.protobuf.message import Message

from easymtl.convert.record import Note
from easymtl.overrides import is_repeated

_WIDTH = 96


def render(config: Message, notes: list[Note], header: list[str]) -> str:
    """`config` as protobuf text: the `header` lines as comments first, then each field
    with the notes whose target is its path (or whose target's nearest written
    ancestor it is) as comments above it."""
    paths: set[str] = set()
    _paths(config, "", paths)
    by_path: dict[str, list[Note]] = {}
    for note in notes:
        target = note.target
        while target and target not in paths:
            target = _parent(target)
        by_path.setdefault(target, []).append(note)
    for group in by_path.values():
        group.sort(key=lambda note: note.line)
    out = io.StringIO()
    for line in header:
        out.write(f"# {line}\n" if line else "#\n")
    for note in by_path.get("", []):
        _comment(out, note, "")
    out.write("\n")
    _message(config, "", "", by_path, out)
    return out.getvalue()


def _parent(path: str) -> str:
    if path.endswith("]"):
        return path[: path.rindex("[")]
    return path.rsplit(".", 1)[0] if "." in path else ""


def _items(msg: Message, prefix: str):
    """(field, value, path) of each set field of `msg`, repeated ones item by item."""
    for field, value in msg.ListFields():
        name = f"{prefix}{field.name}"
        if _is_map(field):
            yield field, value, name
        elif is_repeated(field):
            if field.message_type is None:
                yield field, list(value), name
            else:
                for i, item in enumerate(value):
                    yield field, item, f"{name}[{i}]"
        else:
            yield field, value, name


def _is_map(field) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _paths(msg: Message, prefix: str, paths: set[str]) -> None:
    for field, value, path in _items(msg, prefix):
        paths.add(path)
        if is_repeated(field) and field.message_type is not None:
            paths.add(path[: path.rindex("[")])
        if field.message_type is not None and not _is_map(field):
            _paths(value, path + ".", paths)


def _comment(out, note: Note, indent: str) -> None:
    where = f"{note.source} (line {note.line})" if note.source else "top-level fields"
    text = f"{where}: {note.text}"
    for line in textwrap.wrap(text, _WIDTH - len(indent) - 2, subsequent_indent="  "):
        out.write(f"{indent}# {line}\n")


def _message(msg: Message, prefix: str, indent: str, notes, out) -> None:
    for field, value, path in _items(msg, prefix):
        if is_repeated(field) and path.endswith("[0]"):
            for note in notes.get(path[:-3], []):
                _comment(out, note, indent)
        for note in notes.get(path, []):
            _comment(out, note, indent)
        if _is_map(field):
            for key in sorted(value):
                entry = field.message_type._concrete_class(key=key, value=value[key])
                out.write(f"{indent}{field.name} {{ {_one_line(entry)} }}\n")
        elif field.message_type is not None and _flat(value, indent, field.name):
            out.write(f"{indent}{field.name} {{ {_one_line(value)} }}\n")
        elif field.message_type is not None:
            out.write(f"{indent}{field.name} {{\n")
            _message(value, path + ".", indent + "  ", notes, out)
            out.write(f"{indent}}}\n")
        elif isinstance(value, list):
            items = ", ".join(_scalar(field, v) for v in value)
            if len(indent) + len(field.name) + len(items) + 4 <= _WIDTH:
                out.write(f"{indent}{field.name}: [{items}]\n")
            else:
                for v in value:
                    out.write(f"{indent}{field.name}: {_scalar(field, v)}\n")
        else:
            out.write(f"{indent}{field.name}: {_scalar(field, value)}\n")


def _flat(msg: Message, indent: str, name: str) -> bool:
    """Whether `msg` holds scalars only and fits one line: ``name { a: 1 b: "x" }``."""
    fields = msg.ListFields()
    if not fields or any(f.message_type is not None or is_repeated(f) for f, _ in fields):
        return False
    return len(indent) + len(name) + len(_one_line(msg)) + 6 <= _WIDTH


def _scalar(field, value) -> str:
    buffer = io.StringIO()
    text_format.PrintFieldValue(field, value, buffer, as_utf8=True)
    return buffer.getvalue()


def _one_line(msg: Message) -> str:
    return text_format.MessageToString(msg, as_one_line=True, as_utf8=True)
