"""Every refusal of easymtl.convert (a `fail` or `refuse` call: one line naming the source
field and what to do) is in docs/troubleshooting.md, as tests/test_troubleshooting.py
checks for EasymtlError: the longest literal piece of its message must be on the page."""

from __future__ import annotations

import ast
import string
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "troubleshooting.md"
MIN_LENGTH = 8


def _parts(node: ast.expr) -> list[str | None]:
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else [None]
    if isinstance(node, ast.JoinedStr):
        return [v.value if isinstance(v, ast.Constant) else None for v in node.values]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _parts(node.left) + _parts(node.right)
    return [None]


def refusal_messages() -> list[tuple[str, str]]:
    """(where, longest literal piece) of each refusal message in easymtl/convert."""
    found = []
    for path in sorted((ROOT / "easymtl" / "convert").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("fail", "refuse")
                and node.args
            ):
                continue
            pieces = [p.strip(string.whitespace) for p in _parts(node.args[-1]) if p]
            longest = max(pieces, key=len, default="")
            if len(longest.strip(string.punctuation)) >= MIN_LENGTH:
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", longest))
    return found


def test_every_refusal_is_in_troubleshooting_md():
    messages = refusal_messages()
    assert len(messages) > 60
    page = PAGE.read_text(encoding="utf-8")
    missing = [f"{where}: {text!r}" for where, text in messages if text not in page]
    assert not missing, "refusals missing from docs/troubleshooting.md:\n" + "\n".join(missing)
