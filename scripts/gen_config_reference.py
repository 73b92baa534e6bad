"""Writes docs/config_reference.md from the comments in protos/*.proto.

The generated ``*_pb2`` modules drop comments, so this reads the .proto text itself: for
each message and enum its leading comment, for each field its leading (or trailing) ``//``
comment, type, label, default and oneof.

Usage:
    python scripts/gen_config_reference.py            # rewrite docs/config_reference.md
    python scripts/gen_config_reference.py --check    # exit 1 if it is stale or a field
                                                      # or enum value has no comment
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO_DIR = ROOT / "protos"
OUTPUT = ROOT / "docs" / "config_reference.md"
ROOT_MESSAGE = "PipelineConfig"
SCALARS = {
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
    "fixed32", "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
}  # fmt: skip

_TOKEN = re.compile(
    r'(?P<comment>//[^\n]*)|(?P<string>"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\')'
    r"|(?P<word>[A-Za-z0-9_.+\-]+)|(?P<punct>[{}\[\]=;<>,()])|(?P<space>\s+)|(?P<other>.)"
)


@dataclass
class Field:
    name: str
    type: str
    label: str  # "optional", "required", "repeated", or "" inside a oneof
    number: int
    line: int
    doc: str
    default: str | None = None
    oneof: str | None = None


@dataclass
class EnumValue:
    name: str
    number: int
    line: int
    doc: str


@dataclass
class Enum:
    name: str
    line: int
    doc: str
    values: list[EnumValue] = field(default_factory=list)


@dataclass
class Message:
    name: str
    line: int
    doc: str
    fields: list[Field] = field(default_factory=list)
    oneofs: dict[str, str] = field(default_factory=dict)  # name -> its comment


@dataclass
class ProtoFile:
    path: str  # relative to the repository root, e.g. "protos/model.proto"
    messages: list[Message] = field(default_factory=list)
    enums: list[Enum] = field(default_factory=list)


@dataclass
class _Tok:
    text: str
    kind: str
    line: int
    first: bool  # the first token on its line


class _Parser:
    """A recursive-descent parser of the proto2 subset used by protos/*.proto."""

    def __init__(self, text: str, path: str):
        self.path = path
        self.tokens: list[_Tok] = []
        self.comments: list[_Tok] = []
        line, first = 1, True
        for m in _TOKEN.finditer(text):
            kind, tok = m.lastgroup, m.group()
            if kind == "space":
                line += tok.count("\n")
                first = first or "\n" in tok
                continue
            target = self.comments if kind == "comment" else self.tokens
            target.append(_Tok(tok, kind, line, first))
            first = False
        self.i = 0

    # -------------------------------------------------------------------- tokens
    def peek(self, ahead: int = 0) -> _Tok | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def next(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise SyntaxError(f"{self.path}: unexpected end of file")
        self.i += 1
        return tok

    def expect(self, text: str) -> _Tok:
        tok = self.next()
        if tok.text != text:
            raise SyntaxError(f"{self.path}:{tok.line}: expected {text!r}, got {tok.text!r}")
        return tok

    def skip_statement(self) -> None:
        depth = 0
        while True:
            tok = self.next()
            if tok.text == "{":
                depth += 1
            elif tok.text == "}":
                depth -= 1
                if depth == 0:
                    return
            elif tok.text == ";" and depth == 0:
                return

    # ------------------------------------------------------------------ comments
    def doc(self, start: _Tok, end_line: int | None = None) -> str:
        """The comment lines right above `start` (own lines, no blank line between), else
        a trailing comment on `end_line` (the line the declaration ends on)."""
        lines, want = [], start.line - 1
        for c in reversed(self.comments):
            if c.line > want:
                continue
            if c.line < want or not c.first:
                break
            lines.append(c.text)
            want -= 1
        if not lines and end_line is not None:
            lines = [c.text for c in self.comments if c.line == end_line and not c.first]
        return " ".join(_strip_comment(t) for t in reversed(lines)).strip()

    # ------------------------------------------------------------------- grammar
    def parse(self) -> ProtoFile:
        proto = ProtoFile(self.path)
        while self.peek() is not None:
            tok = self.peek()
            if tok.text == "message":
                self.message(proto, "")
            elif tok.text == "enum":
                self.enum(proto, "")
            else:  # syntax, package, import, option
                self.skip_statement()
        return proto

    def message(self, proto: ProtoFile, prefix: str) -> None:
        start = self.expect("message")
        msg = Message(prefix + self.next().text, start.line, self.doc(start))
        proto.messages.append(msg)
        self.expect("{")
        while self.peek().text != "}":
            tok = self.peek()
            if tok.text == "message":
                self.message(proto, msg.name + ".")
            elif tok.text == "enum":
                self.enum(proto, msg.name + ".")
            elif tok.text == "oneof":
                self.next()
                name = self.next().text
                msg.oneofs[name] = self.doc(tok)
                self.expect("{")
                while self.peek().text != "}":
                    if self.peek().text == "option":
                        self.skip_statement()
                    else:
                        msg.fields.append(self.field(name))
                self.expect("}")
            elif tok.text in ("option", "reserved", "extensions", "extend", ";"):
                self.skip_statement()
            else:
                msg.fields.append(self.field(None))
        self.expect("}")

    def field(self, oneof: str | None) -> Field:
        start = self.peek()
        label = ""
        if start.text in ("optional", "required", "repeated"):
            label = self.next().text
        type_ = self.next().text
        if type_ == "map":
            parts = [self.expect("<").text]
            while parts[-1] != ">":
                parts.append(self.next().text)
            type_ = "map" + "".join(parts).replace(",", ", ")
        name = self.next().text
        self.expect("=")
        number = int(self.next().text)
        default = None
        if self.peek().text == "[":
            self.next()
            while True:
                key = self.next().text
                self.expect("=")
                value = self.next().text
                if key == "default":
                    default = value
                sep = self.next().text
                if sep == "]":
                    break
        end = self.expect(";")
        return Field(
            name=name,
            type=type_,
            label=label,
            number=number,
            line=start.line,
            doc=self.doc(start, end.line),
            default=default,
            oneof=oneof,
        )

    def enum(self, proto: ProtoFile, prefix: str) -> None:
        start = self.expect("enum")
        enum = Enum(prefix + self.next().text, start.line, self.doc(start))
        proto.enums.append(enum)
        self.expect("{")
        while self.peek().text != "}":
            tok = self.peek()
            if tok.text in ("option", "reserved", ";"):
                self.skip_statement()
                continue
            name = self.next().text
            self.expect("=")
            number = int(self.next().text)
            if self.peek().text == "[":
                while self.next().text != "]":
                    pass
            end = self.expect(";")
            enum.values.append(EnumValue(name, number, tok.line, self.doc(tok, end.line)))
        self.expect("}")


def _strip_comment(text: str) -> str:
    return text[2:].strip()


def parse_proto(path: Path) -> ProtoFile:
    """Parses one .proto file (its messages, enums, fields and their comments)."""
    return _Parser(path.read_text(encoding="utf-8"), _relative(path)).parse()


def _relative(path: Path) -> str:
    """`path` relative to the repository root where it is inside it (protos/x.proto)."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def parse_all(proto_dir: Path = PROTO_DIR) -> list[ProtoFile]:
    """Parses every .proto under `proto_dir`, ordered as the reference page shows them:
    the file of PipelineConfig first, then files in the order a walk of the types from
    PipelineConfig reaches them, then any others by name."""
    files = [parse_proto(p) for p in sorted(proto_dir.glob("*.proto"))]
    by_type = {t.name: f for f in files for t in [*f.messages, *f.enums]}
    messages = {m.name: m for f in files for m in f.messages}
    order: list[ProtoFile] = []
    queue, seen = [ROOT_MESSAGE], {ROOT_MESSAGE}
    while queue:
        name = queue.pop(0)
        if name in by_type and by_type[name] not in order:
            order.append(by_type[name])
        for f in messages[name].fields if name in messages else []:
            t = _short(f.type)
            if t not in seen and t in by_type:
                seen.add(t)
                queue.append(t)
    return order + [f for f in files if f not in order]


def _short(type_name: str) -> str:
    return type_name.rsplit(".", 1)[-1]


# ------------------------------------------------------------------------------ checks


def missing_docs(files: list[ProtoFile]) -> list[str]:
    """One line per field or enum value without a comment:
    ``protos/x.proto:LINE: Message.field has no documentation``."""
    missing = []
    for f in files:
        for msg in f.messages:
            missing += [
                f"{f.path}:{fd.line}: {msg.name}.{fd.name} has no documentation"
                for fd in msg.fields
                if not fd.doc
            ]
        for enum in f.enums:
            missing += [
                f"{f.path}:{v.line}: {enum.name}.{v.name} has no documentation"
                for v in enum.values
                if not v.doc
            ]
    return missing


def check(output: Path = OUTPUT, proto_dir: Path = PROTO_DIR) -> list[str]:
    """Every problem with the reference: undocumented fields and enum values, and the
    page being out of date. Empty when all is well."""
    files = parse_all(proto_dir)
    problems = missing_docs(files)
    current = output.read_text(encoding="utf-8") if output.exists() else None
    if current != render(files):
        problems.append(
            f"{_relative(output)} is out of date with protos/*.proto: "
            "run python scripts/gen_config_reference.py"
        )
    return problems


# ------------------------------------------------------------------------------ render


def _anchor(name: str) -> str:
    """The anchor GitHub gives a heading `name` (lower case, dots dropped)."""
    return re.sub(r"[^a-z0-9_\- ]", "", name.lower()).replace(" ", "-")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(files: list[ProtoFile]) -> str:
    """The Markdown reference page for `files` (from :func:`parse_all`)."""
    types = {t.name for f in files for t in [*f.messages, *f.enums]}
    enums = {e.name: e for f in files for e in f.enums}

    def link(type_name: str) -> str:
        t = _short(type_name)
        return f"[{t}](#{_anchor(t)})" if t in types else f"`{type_name}`"

    out = [
        "# Config reference",
        "",
        "<!-- Generated by scripts/gen_config_reference.py from the comments in "
        "protos/*.proto; do not edit by hand. -->",
        "",
        "Every message, field and enum of the pipeline config, as `protos/*.proto` define "
        "them (package `easymtl.protos`). A `.config` file is one "
        f"[{ROOT_MESSAGE}](#{_anchor(ROOT_MESSAGE)}) in protobuf text format; `.yaml` and "
        "`.json` configs use the same field names.",
        "",
        "**Label**: `required` fields must be set; `optional` fields may be left out; "
        "`repeated` fields are lists (`[a, b]` or one `name: value` line per item); fields "
        "of a *oneof* are alternatives: set at most one. **Default** is the value an unset "
        "field reads as; *unset* means the field has no default value of its own and its "
        "description says what leaving it out does.",
        "",
    ]
    for f in files:
        names = [m.name for m in f.messages] + [e.name for e in f.enums]
        out.append(f"- `{f.path}`: " + ", ".join(f"[{n}](#{_anchor(n)})" for n in names))
    out.append("")
    for f in files:
        out += [f"## {f.path}", ""]
        for msg in f.messages:
            out += [f"### {msg.name}", ""]
            if msg.doc:
                out += [msg.doc, ""]
            if not msg.fields:
                out += ["No fields: writing the message (`{}`) selects it.", ""]
                continue
            out += [
                "| Field | Type | Label | Default | Description |",
                "|---|---|---|---|---|",
            ]
            for fd in msg.fields:
                label = f"oneof `{fd.oneof}`" if fd.oneof else fd.label or "optional"
                out.append(
                    f"| `{fd.name}` | {link(fd.type)} | {label} | {_default(fd, enums)} "
                    f"| {_cell(fd.doc)} |"
                )
            out.append("")
            for name, doc in msg.oneofs.items():
                members = ", ".join(f"`{fd.name}`" for fd in msg.fields if fd.oneof == name)
                out += [f"oneof `{name}` (one of {members}){': ' + doc if doc else '.'}", ""]
        for enum in f.enums:
            out += [f"### {enum.name}", ""]
            if enum.doc:
                out += [enum.doc, ""]
            out += ["| Value | Number | Description |", "|---|---|---|"]
            out += [f"| `{v.name}` | {v.number} | {_cell(v.doc)} |" for v in enum.values]
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _default(fd: Field, enums: dict[str, Enum]) -> str:
    if fd.label == "repeated":
        return "empty"
    if fd.default is not None:
        return f"`{fd.default}`"
    t = _short(fd.type)
    if t in enums and enums[t].values and fd.label != "required" and not fd.oneof:
        return f"`{enums[t].values[0].name}`"
    return "unset"


# -------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="Write nothing; exit 1 if the page is stale or a field lacks a comment.",
    )
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for p in problems:
            print(p)
        return 1 if problems else 0
    files = parse_all()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render(files), encoding="utf-8")
    print(f"wrote {_relative(OUTPUT)}")
    for line in missing_docs(files):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
