"""A small reader of protobuf text format into a tree of fields, each with its line.

It needs no schema: the converters read other projects' configs (EasyRec's) without
their ``.proto`` files, and keep the line of every field for their error messages and
comments. What it accepts is the text format protobuf's own parser accepts for such
configs: ``name: value``, ``name { ... }`` / ``name: { ... }`` / ``name < ... >``,
list values ``name: [1, 2]``, ``#`` comments, optional ``,`` / ``;`` between fields,
strings in single or double quotes (adjacent strings joined, C escapes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from google.protobuf import text_encoding

from easymtl.errors import EasymtlError

_TOKEN = re.compile(
    r"""(?P<space>\s+|\#[^\n]*)
      | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)[fF]?)
      | (?P<name>-?[A-Za-z_][\w.]*)
      | (?P<punct>[{}<>\[\]:,;])""",
    re.VERBOSE,
)


@dataclass
class Scalar:
    """One value: `kind` is "string" (its text unescaped), "number" or "name" (an
    enum value, true/false, inf, nan), with `text` as written (unescaped for strings)."""

    kind: str
    text: str


@dataclass
class Node:
    """A field of a message: its name and line, and either a value (`values`, several
    for a list ``[a, b]``) or the fields of a sub-message (`fields`)."""

    name: str
    line: int
    values: list[Scalar] | None = None
    fields: list[Node] | None = None
    used: bool = field(default=False, compare=False)

    @property
    def is_message(self) -> bool:
        return self.fields is not None


def parse(text: str, path: str) -> list[Node]:
    """The top-level fields of the protobuf text `text` (read from `path`).

    Raises:
        EasymtlError: ``path:line:column: what was expected``, on text that is not
            protobuf text format.
    """
    return _Parser(text, path).message(top=True)


class _Parser:
    def __init__(self, text: str, path: str):
        self.path = path
        self.tokens: list[tuple[str, str, int, int]] = []
        pos, line, start = 0, 1, 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                self._fail(line, pos - start + 1, f"unexpected character {text[pos]!r}")
            kind = m.lastgroup
            if kind != "space":
                self.tokens.append((kind, m.group(), line, m.start() - start + 1))
            newlines = m.group().count("\n")
            if newlines:
                line += newlines
                start = m.start() + m.group().rindex("\n") + 1
            pos = m.end()
        self.i = 0
        self.end = (line, pos - start + 1)

    def _fail(self, line: int, column: int, what: str):
        raise EasymtlError(f"{self.path}:{line}:{column}: {what}")

    def _peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "", *self.end)

    def _next(self):
        token = self._peek()
        self.i += 1
        return token

    def message(self, top: bool = False, close: str = "") -> list[Node]:
        fields: list[Node] = []
        while True:
            kind, text, line, column = self._peek()
            if kind == "end":
                if top:
                    return fields
                self._fail(line, column, f"expected {close!r} before the end of the file")
            if not top and text == close:
                self.i += 1
                return fields
            if kind == "punct" and text in ",;":
                self.i += 1
                continue
            if kind != "name" or text.startswith("-"):
                self._fail(line, column, f"expected a field name, got {text!r}")
            self.i += 1
            fields.append(self.field(text, line))

    def field(self, name: str, line: int) -> Node:
        kind, text, tline, column = self._peek()
        colon = text == ":"
        if colon:
            self.i += 1
            kind, text, tline, column = self._peek()
        if text in ("{", "<"):
            self.i += 1
            return Node(name, line, fields=self.message(close="}" if text == "{" else ">"))
        if not colon:
            self._fail(tline, column, f"expected ':' or '{{' after {name!r}, got {text!r}")
        if text == "[":
            self.i += 1
            values: list[Scalar] = []
            while True:
                kind, text, tline, column = self._peek()
                if text == "]":
                    self.i += 1
                    return Node(name, line, values=values)
                if values:
                    if text != ",":
                        self._fail(tline, column, f"expected ',' or ']' in {name!r}, got {text!r}")
                    self.i += 1
                values.append(self.scalar(name))
        return Node(name, line, values=[self.scalar(name)])

    def scalar(self, name: str) -> Scalar:
        kind, text, line, column = self._next()
        if kind == "string":
            parts = [text]
            while self._peek()[0] == "string":  # "a" "b" is "ab"
                parts.append(self._next()[1])
            try:
                raw = b"".join(text_encoding.CUnescape(p[1:-1]) for p in parts)
                return Scalar("string", raw.decode("utf-8"))
            except ValueError as e:  # UnicodeDecodeError too
                self._fail(line, column, f"bad escape in the string of {name!r}: {e}")
        if kind == "number":
            return Scalar("number", text.rstrip("fF"))
        if kind == "name":
            return Scalar("name", text)
        self._fail(line, column, f"expected a value for {name!r}, got {text!r}")
        raise AssertionError  # unreachable: _fail raises
