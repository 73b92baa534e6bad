"""The trainer's shape (docs/ARCHITECTURE.md, "How the trainer is split"): one loop, one
evaluation, and runners that extend the Runner through its public methods only."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import easymtl
from easymtl.ps.runner import PSRunner
from easymtl.runner import Runner

PACKAGE = Path(easymtl.__file__).parent


def _calls_of(attribute: str) -> set[str]:
    """The modules of easymtl (relative paths) that call a method named `attribute`."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        if "protos" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == attribute
            ):
                found.add(str(path.relative_to(PACKAGE)))
    return found


def _hooks_called_by_name(module: str) -> set[str]:
    """The hook names a module passes to its `_call` helper as string constants."""
    tree = ast.parse((PACKAGE / module).read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "_call"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


def test_the_training_loop_exists_once():
    # The train hooks are called by the loop alone; no runner has a loop of its own.
    assert {"before_train", "before_step", "after_step", "after_train"} <= (
        _hooks_called_by_name("trainer/loop.py")
    )
    for hook in ("before_train", "before_step", "after_step", "after_train"):
        assert _calls_of(hook) <= {"trainer/loop.py"}, hook


def test_evaluation_exists_once():
    assert _calls_of("after_eval_step") == {"trainer/evaluator.py"}
    assert _calls_of("after_evaluate") == {"trainer/evaluator.py"}


def test_runners_override_public_methods_only():
    private = {
        name
        for name, _ in inspect.getmembers(Runner, inspect.isfunction)
        if name.startswith("_") and not name.startswith("__")
    }
    subclasses, todo = [], [Runner]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("easymtl."):
                subclasses.append(sub)
            todo.append(sub)
    assert PSRunner in subclasses
    for sub in subclasses:
        overridden = private & set(vars(sub))
        assert not overridden, f"{sub.__name__} overrides private {sorted(overridden)}"
    # The parameter-server runner supplies placement and scheduling, nothing else.
    assert {n for n, v in vars(PSRunner).items() if inspect.isfunction(v)} == {
        "__init__",
        "build_variables",
        "check_memory",
        "serving_model",
        "apply_gradients",
        "schedule",
    }
