"""docs/troubleshooting.md lists every error message: whoever adds an error documents it.

Every call of EasymtlError, ConfigError, Interrupted (or a subclass defined in easymtl)
in easymtl/ is found with `ast`; the longest constant piece of its message (a string
literal, the literal part of an f-string, or of a "a" + "b" concatenation) must appear
in the page. Messages with no constant piece of at least 8 characters (a re-raised
variable) are skipped.
"""

from __future__ import annotations

import ast
import string
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "easymtl"
PAGE = ROOT / "docs" / "troubleshooting.md"
BASE_ERRORS = {"EasymtlError", "ConfigError", "Interrupted"}
MIN_LENGTH = 8
_STRIP = string.punctuation + string.whitespace


def _sources() -> dict[str, ast.Module]:
    """The parsed modules of easymtl (without the generated protos), by relative path."""
    return {
        path.relative_to(ROOT).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
        if "protos" not in path.relative_to(PACKAGE).parts
    }


def error_classes(trees: list[ast.Module]) -> set[str]:
    """The base error names and every class in `trees` that derives from one of them."""
    names = set(BASE_ERRORS)
    classes = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    grown = True
    while grown:
        grown = False
        for node in classes:
            if node.name not in names and any(_name(b) in names for b in node.bases):
                names.add(node.name)
                grown = True
    return names


def _name(node: ast.expr) -> str | None:
    """`X` of ``X`` or ``module.X``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _parts(node: ast.expr) -> list[str | None]:
    """The message as a sequence of literal text (str) and computed parts (None)."""
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else [None]
    if isinstance(node, ast.JoinedStr):
        return [part for value in node.values for part in _parts(value)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _parts(node.left) + _parts(node.right)
    return [None]


def constant_pieces(node: ast.expr) -> list[str]:
    """The runs of literal text of a message expression, punctuation stripped at the ends."""
    pieces, run = [], ""
    for part in [*_parts(node), None]:
        if part is None:
            pieces.append(run.strip(_STRIP))
            run = ""
        else:
            run += part
    return [p for p in pieces if p]


def message_pieces(tree: ast.Module, classes: set[str]) -> list[tuple[int, str]]:
    """(line, longest constant piece) of each error-making call in `tree` whose message
    has a piece of at least MIN_LENGTH characters."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _name(node.func) in classes and node.args):
            continue
        if isinstance(node.args[-1], ast.Starred):
            continue
        pieces = [p for p in constant_pieces(node.args[-1]) if len(p) >= MIN_LENGTH]
        if pieces:
            found.append((node.lineno, max(pieces, key=len)))
    return sorted(found)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def undocumented(sources: dict[str, ast.Module], page: str) -> list[str]:
    """``file:line: piece`` for each message piece of `sources` missing from `page`."""
    classes = error_classes(list(sources.values()))
    page = _collapse(page)
    return [
        f"{path}:{line}: {piece!r}"
        for path, tree in sources.items()
        for line, piece in message_pieces(tree, classes)
        if _collapse(piece) not in page
    ]


def test_every_error_message_is_in_troubleshooting_md():
    sources = _sources()
    classes = error_classes(list(sources.values()))
    assert sum(len(message_pieces(t, classes)) for t in sources.values()) > 50
    missing = undocumented(sources, PAGE.read_text(encoding="utf-8"))
    assert not missing, (
        "error messages missing from docs/troubleshooting.md (add each, verbatim, with what "
        "it means and what to do):\n" + "\n".join(missing)
    )


def test_the_check_finds_a_new_undocumented_error():
    source = ast.parse(
        "from easymtl.errors import EasymtlError\n"
        "\n"
        "class DataProblem(EasymtlError):\n"
        "    pass\n"
        "\n"
        "def f(x, y):\n"
        "    if x:\n"
        '        raise EasymtlError(f"{x}: a brand new failure mode")\n'
        '    raise DataProblem("step " + str(y) + ": another new failure")\n'
    )
    missing = undocumented({"easymtl/new.py": source}, "# Troubleshooting\n")
    assert missing == [
        "easymtl/new.py:8: 'a brand new failure mode'",
        "easymtl/new.py:9: 'another new failure'",
    ]
    page = "a brand new   failure\nmode; another new failure"
    assert undocumented({"easymtl/new.py": source}, page) == []


def test_pieces_of_messages():
    def pieces(expr: str) -> list[str]:
        return constant_pieces(ast.parse(expr, mode="eval").body)

    assert pieces('f"{path}: column {name!r}: " "is bad; fix it"') == [
        "column",
        "is bad; fix it",
    ]
    assert pieces('"expected one of " + ", ".join(x)') == ["expected one of"]
    assert pieces('"a " + "b c"') == ["a b c"]
    assert pieces("str(e)") == []
