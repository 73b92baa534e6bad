"""What a conversion did with each field of the source config: the notes that become
the converted config's comments, the fields it refused, and the source line of each
converted field (for errors about the converted config)."""

from __future__ import annotations

from dataclasses import dataclass, field

from easymtl.convert.textproto import Node, Scalar
from easymtl.errors import EasymtlError

_TRUE = {"true", "True", "t", "1"}
_FALSE = {"false", "False", "f", "0"}


class Refused(EasymtlError):
    """Fields of a source config that cannot be converted: the message names the first
    (and how many more there are); `refusals` holds each one's line, in file order."""

    def __init__(self, refusals: list[str], how_to_list: str):
        self.refusals = list(refusals)
        more = len(refusals) - 1
        rest = f" (and {more} more; {how_to_list} lists them all)" if more else ""
        super().__init__(refusals[0] + rest)


@dataclass
class Note:
    """A comment of the converted config: source field `source` (at `line` of the
    source file) became, or did not become, the field at `target` (an easymtl field
    path such as ``model_config.mmoe.task_towers[0]``; "" for the file's header)."""

    line: int
    source: str
    target: str
    text: str
    differs: bool = False


@dataclass
class Record:
    """The notes and refusals of converting the file at `path`, and the source line of
    each target field path it converted (`lines`)."""

    path: str
    notes: list[Note] = field(default_factory=list)
    refusals: list[tuple[int, str]] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

    def refuse(self, line: int, source: str, message: str) -> None:
        """A source field that cannot be converted: `message` says what to do."""
        self.refusals.append((line, f"{self.path}:{line}: {source}: {message}"))

    def raise_refusals(self, how_to_list: str) -> None:
        """Raises the first refusal (with how many more there are), if any."""
        if self.refusals:
            ordered = [text for _, text in sorted(self.refusals, key=lambda r: r[0])]
            raise Refused(ordered, how_to_list)

    def field_lines(self) -> dict[str, int]:
        """The source line of each converted field, by field path in config.py's form
        (``model_config[0].mmoe[0].task_towers[1]``: every part indexed)."""
        return {
            ".".join(p if p.endswith("]") else f"{p}[0]" for p in target.split(".")): line
            for target, line in self.lines.items()
            if target
        }

    def locate(self, target: str) -> str:
        """``path:line`` of the source field that became `target` (its deepest
        converted prefix), else ``path``."""
        parts = target.split(".")
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if key in self.lines:
                return f"{self.path}:{self.lines[key]}"
        return self.path


class Src:
    """One message of the source config, read field by field.

    Every field read is noted; :meth:`close` writes the message's one note (its
    `summary`, then a clause per field) and refuses every field nobody read.

    Args:
        record: The conversion's record.
        node: The message's node (None: an absent message, every field at its default).
        source: Its source field path (``data_config``, ``feature_config.features[2]``).
        target: The easymtl field path its note goes to.
        kind: The source message type, for messages about unknown fields.
    """

    def __init__(self, record: Record, node: Node | None, source: str, target: str, kind: str):
        self.record = record
        self.fields = node.fields if node is not None else []
        self.line = node.line if node is not None else 0
        self.source = source
        self.target = target
        self.kind = kind
        self.clauses: list[str] = []
        self.kept: list[str] = []
        self.differs = False
        if node is not None:
            node.used = True
            record.lines.setdefault(target, node.line)

    # ------------------------------------------------------------------ reading fields

    def nodes(self, name: str) -> list[Node]:
        """Every occurrence of field `name` (marked read)."""
        found = [n for n in self.fields if n.name == name]
        for n in found:
            n.used = True
        return found

    def has(self, name: str) -> bool:
        return any(n.name == name for n in self.fields)

    def line_of(self, name: str) -> int:
        found = [n.line for n in self.fields if n.name == name]
        return found[0] if found else self.line

    def where(self, name: str) -> str:
        return f"{self.source}.{name}" if self.source else name

    def fail(self, name: str, message: str) -> None:
        """Refuses field `name` of this message."""
        self.record.refuse(self.line_of(name), self.where(name), message)

    def _single(self, name: str) -> Node | None:
        # EasyRec reads its configs with text_format.Merge: a value given twice is the
        # last one.
        found = self.nodes(name)
        return found[-1] if found else None

    def msg(self, name: str, target: str, kind: str) -> Src | None:
        """Sub-message `name` (None if absent), its note going to `target`. A message
        given twice is merged, as text_format.Merge merges it."""
        found = self.nodes(name)
        if not found:
            return None
        if any(not node.is_message for node in found):
            self.fail(name, f"expected a message `{name} {{ ... }}`")
            return None
        node = Node(name, found[0].line, fields=[f for n in found for f in n.fields])
        return Src(self.record, node, self.where(name), target, kind)

    def msgs(self, name: str, target: str, kind: str) -> list[Src]:
        """Every `name` sub-message; `target` may hold ``{i}``, the index."""
        out = []
        for i, node in enumerate(self.nodes(name)):
            if not node.is_message:
                self.record.refuse(node.line, self.where(name), "expected a message { ... }")
                continue
            out.append(Src(self.record, node, f"{self.where(name)}[{i}]", target.format(i=i), kind))
        return out

    def get(self, name: str, kind: type | dict = str, default=None, keep: str | None = None):
        """The value of scalar field `name` converted to `kind` (str, int, float, bool,
        or an enum as a dict of its value names by number), or `default` when absent.
        With `keep`, the field is noted as kept as the easymtl field of that name."""
        node = self._single(name)
        if node is None:
            return default
        if node.values is None or len(node.values) != 1:
            self.fail(name, "expected one value")
            return default
        value = _convert(node.values[0], kind)
        if value is None:
            self.fail(name, f"{node.values[0].text!r} is not {_kind_name(kind)}")
            return default
        if keep is not None:
            self.keep(name, keep, node.line)
        return value

    def get_list(self, name: str, kind: type = str) -> list:
        """The values of repeated scalar field `name` (``name: a name: b`` or
        ``name: [a, b]``)."""
        values = []
        for node in self.nodes(name):
            for scalar in node.values or []:
                value = _convert(scalar, kind)
                if value is None:
                    self.record.refuse(
                        node.line, self.where(name), f"{scalar.text!r} is not {_kind_name(kind)}"
                    )
                    continue
                values.append(value)
            if node.values is None:
                self.record.refuse(node.line, self.where(name), "expected values, not a message")
        return values

    # ------------------------------------------------------------------ notes

    def keep(self, name: str, to: str | None = None, line: int | None = None) -> None:
        """Field `name` is kept as easymtl's field `to` (default: the same name)."""
        to = to or name
        self.kept.append(name if to == name else f"{name} -> {to}")
        self.record.lines.setdefault(f"{self.target}.{to}", line or self.line_of(name))

    def keep_if(self, name: str, to: str | None = None) -> None:
        """Notes field `name` as kept (as `to`) if the message gives it."""
        if self.has(name):
            self.keep(name, to)

    def consume(self) -> None:
        """Marks every field of this message read (a message converted as a whole)."""
        for node in self.fields:
            _mark(node)

    def say(self, text: str, differs: bool = False) -> None:
        """A clause of this message's note (`differs`: easymtl's meaning differs)."""
        self.clauses.append(f"differs: {text}" if differs else text)
        self.differs = self.differs or differs

    def drop(self, name: str, why: str) -> None:
        """Field `name` is read and not converted, because of `why`."""
        if self.has(name):
            self.nodes(name)
            self.say(f"{name} dropped ({why})")

    def close(self, summary: str = "") -> None:
        """Notes this message and refuses the fields nobody read."""
        for node in self.fields:
            if not node.used:
                node.used = True
                self.record.refuse(
                    node.line,
                    self.where(node.name),
                    f"not a field of EasyRec's {self.kind} that easymtl.convert knows; check "
                    "its spelling, or remove it",
                )
        parts = [summary] if summary else []
        if self.kept:
            parts.append("kept: " + ", ".join(self.kept))
        parts += self.clauses
        if parts:
            self.record.notes.append(
                Note(self.line, self.source, self.target, "; ".join(parts), self.differs)
            )


def _mark(node: Node) -> None:
    node.used = True
    for child in node.fields or []:
        _mark(child)


def _convert(scalar: Scalar, kind):
    text = scalar.text
    if isinstance(kind, dict):  # an enum: its name, or its number
        if scalar.kind == "name" and text in kind.values():
            return text
        if scalar.kind == "number" and text.lstrip("-").isdigit():
            return kind.get(int(text))
        return None
    if kind is str:
        return text if scalar.kind == "string" else None
    if kind is bool:
        return True if text in _TRUE else False if text in _FALSE else None
    if scalar.kind == "string":
        return None
    try:
        if kind is int:
            return int(text) if text.lstrip("-+").isdigit() else int(text, 0)
        return float(text)
    except ValueError:
        return None


def _kind_name(kind) -> str:
    if isinstance(kind, dict):
        return "one of " + ", ".join(kind.values())
    return {str: "a quoted string", int: "an integer", float: "a number", bool: "true or false"}[
        kind
    ]
