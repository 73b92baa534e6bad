"""Lists in the docs that name the code's parts: checked against the code, so that a new
model or module cannot be left out of them (nor a removed one stay)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from easymtl.losses import LOSSES
from easymtl.metrics import METRICS
from easymtl.models import MODELS
from easymtl.weighting import WEIGHTINGS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "easymtl"
# Packages whose members are one file per registered name: the registry lists them.
REGISTRY_PACKAGES = {
    "losses": LOSSES,
    "metrics": METRICS,
    "weighting": WEIGHTINGS,
    "models": MODELS,
}


def _section(path: str, heading: str) -> str:
    text = (ROOT / path).read_text()
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_architecture_layout_names_every_module():
    layout = _section("docs/ARCHITECTURE.md", "Layout")
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "protos":
            continue
        if path.name == "__init__.py":
            named = len(rel.parts) == 1 or f"{rel.parts[-2]}/" in layout
        else:
            registry = REGISTRY_PACKAGES.get(rel.parts[0]) if len(rel.parts) == 2 else None
            named = path.name in layout or (registry is not None and path.stem in registry)
        if not named:
            missing.append(str(rel))
    assert not missing, f"docs/ARCHITECTURE.md's Layout does not name: {missing}"
    modules = {p.name for p in PACKAGE.rglob("*.py")}
    stale = {n for n in re.findall(r"\b(\w+\.py)\b", layout) if n not in modules}
    assert stale <= {"setup.py", "make_sample_data.py"}, f"no such module: {stale}"


def _backticked(text: str) -> list[str]:
    return re.findall(r"`(\w+)`", text)


def test_architecture_flow_lists_the_registered_models():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    match = re.search(r"model_config oneof name → backbone builder\s*▼?\s*\(([^)]*)\)", text)
    assert match, "ARCHITECTURE.md's flow lists no models"
    listed = [n.strip() for n in match.group(1).split(",")]
    assert sorted(listed) == sorted(MODELS.names())


def test_models_index_has_one_row_per_registered_model():
    text = (ROOT / "docs" / "models" / "README.md").read_text()
    blocks = re.findall(r"^\|[^|]*\| `(\w+) \{ \.\.\. \}` \|", text, re.M)
    assert sorted(blocks) == sorted(MODELS.names())


def _display_names() -> dict[str, str]:
    """Model name → its name in prose, from the models index ("MMoE", "Shared-Bottom")."""
    text = (ROOT / "docs" / "models" / "README.md").read_text()
    rows = re.findall(r"^\| \[([^\]]+)\]\((\w+)\.md\) \|", text, re.M)
    return {name: display for display, name in rows}


def test_readme_names_every_model():
    text = (ROOT / "README.md").read_text()
    match = re.search(r"`samples/configs/` has one runnable config per model: ([^.]*)\.", text)
    assert match, "README.md no longer lists the sample models"
    listed = match.group(1).lower()
    names = _display_names()
    assert sorted(names) == sorted(MODELS.names())
    missing = [n for n, display in names.items() if display.lower() not in listed]
    assert not missing, f"README.md's model list misses {missing}"


@pytest.mark.parametrize("model", MODELS.names())
def test_coming_from_torcheasyrec_names_every_model(model):
    text = (ROOT / "docs" / "coming_from_torcheasyrec.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `model_config` `model`"))
    supported = row.split(";")[0]  # the rest names TorchEasyRec's models easymtl lacks
    assert model in _backticked(supported)
