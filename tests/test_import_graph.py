"""easymtl's import graph: no circle, and the layering docs/ARCHITECTURE.md declares.

The graph is read from the source (ast over easymtl/**/*.py), with module-level and
function-level imports alike: an import inside a function is still a dependency. Two
kinds of import are not edges: those under ``if TYPE_CHECKING:`` (never run), and a
module's import of its own package (``from easymtl.models import MODELS`` in
models/mmoe.py: a registry's package registers its members, the one sanctioned way
back). A name imported from a package resolves to its submodule where it is one.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "easymtl"
THIRD_PARTY_TF = ("tensorflow", "keras", "tf_keras")


@cache
def modules() -> dict[str, Path]:
    """Dotted name → path of each easymtl module (the generated protos left out)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "protos" in path.relative_to(PACKAGE).parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


class _Imports(ast.NodeVisitor):
    """The imports of one module: (imported name, whether at module level)."""

    def __init__(self, module: str, is_package: bool):
        self.module, self.is_package = module, is_package
        self.found: list[tuple[str, bool]] = []
        self.depth = 0

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == (
            "TYPE_CHECKING"
        ):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def _nested(self, node) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _nested

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(alias.name, self.depth == 0) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            package = self.module.split(".")
            package = package if self.is_package else package[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join(package + ([node.module] if node.module else []))
        for alias in node.names:
            self.found.append((f"{base}.{alias.name}", self.depth == 0))
            self.found.append((base, self.depth == 0))


@cache
def imports(module: str) -> tuple[tuple[str, bool], ...]:
    path = modules()[module]
    visitor = _Imports(module, path.name == "__init__.py")
    visitor.visit(ast.parse(path.read_text(), str(path)))
    return tuple(visitor.found)


def _resolve(name: str) -> str | None:
    """The easymtl module that importing `name` runs last (its deepest module)."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


@cache
def graph(module_level_only: bool = False) -> dict[str, frozenset[str]]:
    """Module → the easymtl modules it imports (see the module docstring)."""
    edges = {}
    for module in modules():
        targets = set()
        for name, top in imports(module):
            if module_level_only and not top:
                continue
            target = _resolve(name) if name.startswith("easymtl") else None
            if target and target != module and not module.startswith(target + "."):
                targets.add(target)
        edges[module] = frozenset(targets)
    return edges


def circles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _path(edges, start: str, goal: str) -> list[str]:
    """A shortest import chain from `start` to `goal` (for the failure message)."""
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for w in sorted(edges[path[-1]]):
            if w == goal:
                return path + [w]
            if w not in seen:
                seen.add(w)
                paths.append(path + [w])
    return []


def test_the_graph_sees_function_level_and_relative_imports():
    # The reader itself: a function-level import is an edge, a TYPE_CHECKING one is not.
    edges = graph()
    assert "easymtl.layers.esmm" in edges["easymtl.models.esmm_model"]
    assert "easymtl.features" in edges["easymtl.models"]  # inside build_model
    assert "easymtl.runner" not in edges["easymtl.callbacks"]  # TYPE_CHECKING only
    assert circles({"a": frozenset({"b"}), "b": frozenset({"a"}), "c": frozenset()}) == [["a", "b"]]


def test_no_import_circle():
    edges = graph()
    found = circles(edges)
    chains = [" -> ".join(_path(edges, c[0], c[0])) for c in found]
    assert not found, "import circles: " + "; ".join(chains)


def layering_rules() -> list[tuple[str, list[str]]]:
    """The rules of docs/ARCHITECTURE.md's "Layering": (module or package, the modules
    or packages it imports none of)."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split("\n## Layering", 1)[1].split("\n## ", 1)[0]
    rules = []
    for line in section.splitlines():
        match = re.match(r"- `([\w.]+)` imports none of: (.*)$", line)
        if match:
            rules.append((match.group(1), re.findall(r"`([\w.]+)`", match.group(2))))
    return rules


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_layering_declared_in_architecture_holds():
    rules = layering_rules()
    assert len(rules) >= 8, rules
    edges = graph()
    broken = []
    for package, banned in rules:
        members = [m for m in modules() if _within(m, package)]
        assert members, f"ARCHITECTURE.md's layering names {package}, which is no module"
        for module in members:
            for target in edges[module]:
                for ban in banned:
                    assert any(_within(m, ban) for m in modules()), ban
                    if _within(target, ban) and not _within(target, package):
                        broken.append(f"{module} imports {target} ({package} imports no {ban})")
    assert not broken, "\n".join(broken)


def test_config_side_imports_no_tensorflow_at_module_level():
    # What `easymtl.config` loads (module-level imports, followed) imports no TensorFlow
    # or Keras at module level: config checks run before TensorFlow loads. The run-time
    # check of the same is tests/test_cli_startup.py's
    # test_every_sample_config_validates_without_tensorflow.
    edges = graph(module_level_only=True)
    loaded, todo = set(), ["easymtl.config"]
    while todo:
        module = todo.pop()
        if module in loaded:
            continue
        loaded.add(module)
        # Importing a module runs its packages' __init__ first.
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(2, len(parts))]
        todo += edges[module]
    offenders = [
        f"{m} imports {name}"
        for m in sorted(loaded)
        for name, top in imports(m)
        if top and name.split(".")[0] in THIRD_PARTY_TF
    ]
    assert "easymtl.models" in loaded and "easymtl.features" in loaded
    assert not offenders, offenders


def test_nothing_imports_the_command_line_entry_points():
    entry_points = {"easymtl.train", "easymtl.evaluate", "easymtl.predict"}
    importers = {m: sorted(t & entry_points) for m, t in graph().items() if t & entry_points}
    assert not importers, importers
