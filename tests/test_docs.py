"""The docs stay true: the config reference matches the protos, links resolve, every model
has a page, and every command and flag the docs show exists.

Nothing here trains: the CLIs are only asked for --help.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import re
import shlex
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted([*DOCS.rglob("*.md"), ROOT / "README.md"])


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@cache
def _generator():
    """scripts/gen_config_reference.py as a module."""
    path = ROOT / "scripts" / "gen_config_reference.py"
    spec = importlib.util.spec_from_file_location("gen_config_reference", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------- config reference


def test_config_reference_is_in_sync_with_the_protos():
    problems = _generator().check()
    assert not problems, "\n".join(
        problems + ["(document each field in its .proto, then run scripts/gen_config_reference.py)"]
    )


_PROTO = """\
syntax = "proto2";
package easymtl.protos;

// The root.
message PipelineConfig {
  // Where everything goes.
  optional string model_dir = 1;
  WIDTH_DOC
  optional uint32 width = 2;
}

// A colour.
enum Colour {
  // Red.
  RED = 0;
  GREEN_DOC
  GREEN = 1;
}
"""


def _proto_dir(tmp_path: Path, documented: bool) -> Path:
    """A protos/ directory with one .proto, whose `width` field and `GREEN` value have
    comments only if `documented`."""
    proto_dir = tmp_path / "protos"
    proto_dir.mkdir()
    text = _PROTO.replace("WIDTH_DOC", "// A width." if documented else "")
    text = text.replace("GREEN_DOC", "// Green." if documented else "")
    (proto_dir / "pipeline.proto").write_text(text)
    return proto_dir


def test_check_reports_an_undocumented_field_and_enum_value(tmp_path):
    gen = _generator()
    proto_dir = _proto_dir(tmp_path, documented=False)
    output = tmp_path / "reference.md"
    output.write_text(gen.render(gen.parse_all(proto_dir)))  # an up-to-date page

    problems = gen.check(output, proto_dir)

    assert any("PipelineConfig.width has no documentation" in p for p in problems), problems
    assert any("Colour.GREEN has no documentation" in p for p in problems), problems
    assert not any("model_dir" in p or "RED" in p for p in problems), problems
    assert not any("out of date" in p for p in problems), problems


def test_check_reports_a_stale_page_and_passes_when_all_is_documented(tmp_path):
    gen = _generator()
    proto_dir = _proto_dir(tmp_path, documented=True)
    output = tmp_path / "reference.md"
    output.write_text(gen.render(gen.parse_all(proto_dir)))
    assert gen.check(output, proto_dir) == []

    output.write_text(output.read_text().replace("Where everything goes.", "Elsewhere."))
    assert any("out of date" in p for p in gen.check(output, proto_dir))
    assert any("out of date" in p for p in gen.check(tmp_path / "missing.md", proto_dir))


# ------------------------------------------------------------------------------ links

_FENCE = re.compile(r"^(```|~~~)(.*?)$(.*?)^\1[ \t]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.S)
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def _prose(text: str) -> str:
    """`text` without fenced code blocks and inline code spans."""
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: its text, lower case, punctuation dropped."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"[`*]", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def _anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = _anchor(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return frozenset(anchors)


def _links(page: Path) -> list[str]:
    return _LINK.findall(_prose(page.read_text(encoding="utf-8")))


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_relative_links_resolve(page):
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file {resolved}")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            broken.append(f"{target}: {_rel(resolved)} has no heading with anchor #{anchor}")
    assert not broken, f"{_rel(page)}:\n" + "\n".join(broken)


def test_anchor_matches_github():
    assert _anchor("protos/pipeline.proto") == "protospipelineproto"
    assert _anchor("3. What model_dir holds") == "3-what-model_dir-holds"
    assert _anchor("Coming from `TorchEasyRec` / EasyRec") == "coming-from-torcheasyrec--easyrec"


# ------------------------------------------------------------------------ model pages


def _model_oneof() -> list[str]:
    gen = _generator()
    model = next(m for f in gen.parse_all() for m in f.messages if m.name == "ModelConfig")
    return [f.name for f in model.fields if f.oneof == "model"]


def test_every_model_has_a_page_linked_from_the_models_index():
    index = DOCS / "models" / "README.md"
    linked = {Path(t.partition("#")[0]).stem for t in _links(index) if t.endswith(".md")}
    missing = [
        f"docs/models/{name}.md"
        for name in _model_oneof()
        if not (DOCS / "models" / f"{name}.md").exists()
    ]
    unlinked = [name for name in _model_oneof() if name not in linked]
    assert not missing and not unlinked, (
        f"model pages missing: {missing}; not linked from docs/models/README.md: {unlinked} "
        "(see 'Adding a model page' in docs/models/README.md)"
    )


def test_every_model_page_is_a_model():
    pages = {p.stem for p in (DOCS / "models").glob("*.md")} - {"README"}
    assert pages <= set(_model_oneof()), pages - set(_model_oneof())


# ---------------------------------------------------------------------- feature kinds

_KIND_ROW = re.compile(r"^\| \[`(\w+)`\]\(([^)]+)\) \|", re.M)


def test_features_page_lists_every_feature_kind_with_its_registered_section():
    from easymtl.features import FEATURES

    rows = _KIND_ROW.findall((DOCS / "features.md").read_text(encoding="utf-8"))
    listed = [kind for kind, _ in rows]
    assert listed == FEATURES.names(), (
        "docs/features.md's table of kinds must list the FEATURES registry, in its order "
        f"(see 'Adding a feature kind' in docs/ARCHITECTURE.md): {listed}"
    )
    for kind, link in rows:
        docs = FEATURES.entry(kind).docs
        expected = docs.partition("#")[2] if docs.startswith("features.md#") else docs
        assert link in (docs, f"#{expected}"), (kind, link, docs)
        page, _, anchor = docs.partition("#")
        assert anchor in _anchors(DOCS / page), f"{kind}: docs/{page} has no #{anchor}"


# ------------------------------------------------------------------- commands and flags

_FLAG = re.compile(r"^[\[(]*--([A-Za-z_]\w*(?:\[[^\]]*\])?(?:\.[A-Za-z_]\w*(?:\[[^\]]*\])?)*)")


def _code(page: Path) -> list[str]:
    """The shell-like code of a page: its fenced blocks (except ``text``, ``json``,
    ``python`` ones, which show output or data) and its inline code spans."""
    text = page.read_text(encoding="utf-8")
    blocks = [
        body
        for _, lang, body in _FENCE.findall(text)
        if lang.strip() not in ("text", "json", "python")
    ]
    spans = [m.group(2) for m in _INLINE_CODE.finditer(_FENCE.sub("", text))]
    return blocks + spans


def _commands(code: str) -> list[list[str]]:
    """Shell commands in `code`, as token lists (continuation lines joined, comments and a
    leading `$ ` prompt dropped, split at `&&`, `||`, `|` and `;`)."""
    commands = []
    for line in code.replace("\\\n", " ").splitlines():
        line = re.sub(r"^\s*\$ ", "", line)
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:  # not shell (unbalanced quotes): take words as they are
            tokens = line.split()
        current: list[str] = []
        for token in tokens:
            if token in ("&&", "||", "|", ";"):
                commands.append(current)
                current = []
            else:
                current.append(token)
        commands.append(current)
    return [c for c in commands if c]


def _invocations() -> list[tuple[str, str, list[str]]]:
    """(page, target, arguments) of every ``python -m easymtl.X`` and ``python scripts/X.py``
    in the docs' code."""
    found = []
    for page in PAGES:
        for code in _code(page):
            for tokens in _commands(code):
                for i, token in enumerate(tokens[:-1]):
                    if not re.fullmatch(r"python[\d.]*", token):
                        continue
                    if tokens[i + 1] == "-m" and i + 2 < len(tokens):
                        if re.fullmatch(r"easymtl(\.[A-Za-z_]\w*)*", tokens[i + 2]):
                            found.append((_rel(page), tokens[i + 2], tokens[i + 3 :]))
                    elif tokens[i + 1].startswith("scripts/"):
                        found.append((_rel(page), tokens[i + 1], tokens[i + 2 :]))
    return found


def test_the_docs_show_commands():
    targets = {target for _, target, _ in _invocations()}
    assert {"easymtl.train", "easymtl.export", "easymtl.predict"} <= targets, targets


@cache
def _help_flags(module_name: str) -> frozenset[str]:
    """The flags in `python -m module_name --help`, asked in-process."""
    spec = importlib.util.find_spec(module_name)
    assert spec is not None, f"no module {module_name}"
    if spec.submodule_search_locations is not None:  # a package: python -m runs __main__
        module_name += ".__main__"
    module = importlib.import_module(module_name)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0, f"{module_name} --help failed"
    return frozenset(re.findall(r"(?<![\w-])--(\w+)", out.getvalue()))


def _config_path_error(path: str) -> str | None:
    """Why dotted `path` is not a PipelineConfig field path (None if it is one)."""
    from easymtl.protos import pipeline_pb2

    descriptor = pipeline_pb2.PipelineConfig.DESCRIPTOR
    for name in re.sub(r"\[[^\]]*\]", "", path).split("."):  # selectors dropped
        if descriptor is None:
            return f"{name!r} is inside a scalar field"
        if name not in descriptor.fields_by_name:
            return f"{descriptor.name} has no field {name!r}"
        descriptor = descriptor.fields_by_name[name].message_type
    return None


def _flag_errors(module_name: str, args: list[str]) -> list[str]:
    errors = []
    known = _help_flags(module_name) | {"help"}
    for i, arg in enumerate(args):
        match = _FLAG.match(arg)
        if not match:
            continue
        name = match.group(1)
        if "." in name:
            why = _config_path_error(name)
            if why:
                errors.append(f"--{name}: {why}")
        elif name not in known:
            errors.append(f"--{name}: not a flag of python -m {module_name}")
        if name == "edit_config_json":
            value = arg.partition("=")[2] or (args[i + 1] if i + 1 < len(args) else "")
            try:
                edits = json.loads(value)
            except json.JSONDecodeError:
                continue  # a placeholder, not JSON
            errors += [
                f"--edit_config_json: {p}: {_config_path_error(p)}"
                for p in edits
                if _config_path_error(p)
            ]
    return errors


def test_every_command_and_flag_in_the_docs_exists():
    errors = []
    for page, target, args in _invocations():
        if target.startswith("scripts/"):
            script = ROOT / target
            if not script.is_file():
                errors.append(f"{page}: {target}: no such script")
                continue
            source = script.read_text(encoding="utf-8")
            errors += [
                f"{page}: {target} --{m.group(1)}: not in the script"
                for m in map(_FLAG.match, args)
                if m and f'"--{m.group(1)}"' not in source
            ]
        else:
            errors += [f"{page}: python -m {target} {e}" for e in _flag_errors(target, args)]
    assert not errors, "\n".join(errors)


def test_every_flag_in_inline_code_exists():
    """Inline code that starts with a flag (`--model_dir`, `--train_config.num_steps=20`) is
    a flag of an easymtl command the docs run, or a config field path."""
    clis = {"easymtl.train", "easymtl.export", "easymtl.predict"}
    clis |= {target for _, target, _ in _invocations() if target.startswith("easymtl")}
    clis = sorted(clis)
    known = frozenset().union(*map(_help_flags, clis)) | {"help"}
    errors = []
    for page in PAGES:
        text = _FENCE.sub("", page.read_text(encoding="utf-8"))
        for span in (m.group(2).strip() for m in _INLINE_CODE.finditer(text)):
            match = _FLAG.match(span)
            if not match or not span.startswith("--"):
                continue
            name = match.group(1)
            why = _config_path_error(name) if "." in name else None
            if "." not in name and name not in known:
                why = f"not a flag of {', '.join(clis)}"
            if why:
                errors.append(f"{_rel(page)}: `{span}`: {why}")
    assert not errors, "\n".join(errors)


def test_flag_check_catches_a_wrong_flag():
    assert _flag_errors("easymtl.train", ["--config", "x", "--eval_only"]) == []
    assert _flag_errors("easymtl.train", ["--train_config.num_steps=3"]) == []
    assert _flag_errors("easymtl.train", ["--no_such_flag"])
    assert _flag_errors("easymtl.train", ["--train_config.num_stepz=3"])
    assert _flag_errors("easymtl.train", ["--edit_config_json", '{"model_dir.x": 1}'])


# ------------------------------------------------------------ shown output, run again

_TEXT = re.compile(r"^```text\n(.*?)^```", re.M | re.S)
_BASH_THEN_TEXT = re.compile(
    r"^```bash\n((?:(?!```).)*?)^```\n\n```text\n((?:(?!```).)*?)^```", re.M | re.S
)
_CUT = ("...", "…")


def _exact(output: list[str]) -> bool:
    """Whether shown output is meant to be exact: nothing, or what a command prints
    before any work (its usage, an error line), which has no timings or numbers."""
    return not output or output[0].startswith(("usage: ", "error: "))


def _transcripts() -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """(page, [(command, shown output lines), ...]) of each transcript in the docs whose
    shown output is exact: a ```text block of `$ ` commands each followed by its output,
    or a ```bash block of one command followed directly by its ```text output."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for body in _TEXT.findall(text):
            if not body.startswith("$ "):
                continue
            session: list[tuple[str, list[str]]] = []
            for line in body.splitlines():
                if line.startswith("$ "):
                    session.append((line[2:], []))
                else:
                    session[-1][1].append(line)
            if all(_exact(output) for _, output in session):
                found.append((_rel(page), session))
        for command, output in _BASH_THEN_TEXT.findall(text):
            command = command.replace("\\\n", " ").strip()
            lines = output.splitlines()
            if "\n" not in command and _exact(lines):
                found.append((_rel(page), [(command, lines)]))
    return found


def test_the_docs_show_exact_transcripts():
    pages = {page for page, _ in _transcripts()}
    assert {"docs/quickstart.md", "docs/troubleshooting.md", "docs/tuning.md"} <= pages


@pytest.mark.parametrize(
    "page, session", _transcripts(), ids=[f"{p}:{s[-1][0][:60]}" for p, s in _transcripts()]
)
def test_shown_output_is_what_the_command_prints(page, session, tmp_path):
    """Each command of the transcript, run in order from a scratch directory that sees
    the repository's samples/, prints the lines shown (all of them; a `...` line cuts)."""
    import os
    import subprocess

    (tmp_path / "samples").symlink_to(ROOT / "samples")
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(ROOT)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    for command, shown in session:
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        printed = [line.rstrip() for line in (done.stdout + done.stderr).splitlines()]
        cut = next((i for i, line in enumerate(shown) if line.strip() in _CUT), None)
        expected = [line.rstrip() for line in shown[:cut]]
        got = printed[:cut] if cut is not None else printed
        assert got == expected, (
            f"{page}: $ {command}\nshown:\n"
            + "\n".join(shown)
            + "\nprinted:\n"
            + "\n".join(printed)
        )


def test_quickstart_names_every_installed_command():
    """§1 lists the console scripts pyproject.toml installs, and says how many."""
    pyproject = (ROOT / "pyproject.toml").read_text()  # tomllib is Python 3.11+
    table = pyproject.split("[project.scripts]\n", 1)[1].split("\n\n", 1)[0]
    scripts = dict(re.findall(r'^(\S+) = "([^"]+)"$', table, re.M))
    assert scripts
    section = " ".join((DOCS / "quickstart.md").read_text().split("## 2.")[0].split())
    words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}
    assert f"installs {words[len(scripts)]} commands" in section
    for command, target in scripts.items():
        module = target.split(":")[0].removesuffix(".__main__")
        assert f"`{command}` (`python -m {module}`)" in section, command


def test_quickstart_overrides_section_names_the_commands_that_take_them():
    """§8: every command takes overrides (their --help says so) and the shortcuts are
    where --help lists them."""
    section = (DOCS / "quickstart.md").read_text().split("## 8.")[1].split("## 9.")[0]
    section = " ".join(section.split())
    commands = ["train", "evaluate", "export", "predict", "compare", "tune"]
    for command in commands:
        module = f"easymtl.{command}"
        assert f"`python -m {module}`" in section, module
    without = [c for c in commands if "model_dir" not in _help_flags(f"easymtl.{c}")]
    assert without == ["predict"] and "shortcuts (every command but predict" in section
