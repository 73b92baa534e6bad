"""Every sample config (samples/configs/, recursively: .config, .yaml and .json) is
validated without TensorFlow, and a typo in it is one `error:` line naming the file, the
line and the field with a suggestion, before TensorFlow is imported.

One Python process checks them all (as the CLI runs them, `easymtl.train.main`), then
reports whether TensorFlow was ever imported: a config check that imports it (a lifecycle
check building the model's tasks did) shows here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, SAMPLES

CONFIGS = sorted(
    p for ext in ("*.config", "*.yaml", "*.yml", "*.json") for p in (SAMPLES / "configs").rglob(ext)
)

# Runs in a fresh process from the repository root: argv[1] is a JSON list of cases
# (config path, typo'd copy or null); prints one JSON object per case, then whether
# TensorFlow was imported.
CHECK = """
import contextlib, io, json, sys
from easymtl.config import load_config
from easymtl.train import main

results = []
for path, typo in json.loads(sys.argv[1]):
    if typo is None:
        config = load_config(path)
        results.append({"path": path, "model_dir": config.model_dir})
        continue
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(["--config", typo])
    results.append({"path": typo, "status": status, "stderr": err.getvalue()})
print(json.dumps({"results": results, "tensorflow": "tensorflow" in sys.modules}))
"""


def with_typo(path, tmp_path) -> tuple[str, int, str]:
    """A copy of the config at `path` whose last `label_name` key is misspelt
    `label_nme`; returns its path, the typo's line and the message's unknown-field part."""
    text = path.read_text(encoding="utf-8")
    key = '"label_name"' if path.suffix == ".json" else "label_name:"
    at = text.rindex(key)
    typo = text[:at] + key.replace("label_name", "label_nme") + text[at + len(key) :]
    line = text.count("\n", 0, at) + 1
    copy = tmp_path / path.relative_to(SAMPLES / "configs")
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(typo, encoding="utf-8")
    return str(copy), line, "has no field 'label_nme'; did you mean label_name?"


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("typos")
    cases, expected = [], {}
    for path in CONFIGS:
        cases.append([str(path.relative_to(ROOT)), None])
        typo, line, message = with_typo(path, tmp_path)
        cases.append([str(path.relative_to(ROOT)), typo])
        expected[typo] = (line, message)
    done = subprocess.run(
        [sys.executable, "-c", CHECK, json.dumps([[p, t] for p, t in cases])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), expected


def test_the_samples_include_every_format_and_the_lifecycle_configs():
    names = {p.relative_to(SAMPLES / "configs").as_posix() for p in CONFIGS}
    assert {"mmoe_taobao.yaml", "ple_taobao.json", "lifecycle/mmoe_day2.config"} <= names


def test_no_sample_config_check_imports_tensorflow(checked):
    report, _ = checked
    assert report["tensorflow"] is False
    validated = [r for r in report["results"] if "model_dir" in r]
    assert len(validated) == len(CONFIGS)


def test_a_typo_in_any_sample_config_is_one_line_with_its_place(checked):
    report, expected = checked
    problems = []
    for result in report["results"]:
        if "status" not in result:
            continue
        line, message = expected[result["path"]]
        lines = result["stderr"].strip().splitlines()
        want = f"error: {result['path']}:{line}:"
        if result["status"] != 2 or len(lines) != 1:
            problems.append(f"{result['path']}: exit {result['status']}: {result['stderr']}")
        elif not lines[0].startswith(want) or message not in lines[0]:
            problems.append(f"{result['path']}: expected {want} ... {message}; got {lines[0]}")
    assert not problems, "\n".join(problems)


def test_result_names_without_tensorflow_match_the_evaluation():
    """The eval_result.json keys that config checks (best_exporter_metric, a tuner's
    --metric) derive from the config alone are those the built tasks report."""
    from conftest import MODEL_BLOCKS, TOWERS
    from google.protobuf import text_format

    from easymtl.config import PipelineConfig, load_config
    from easymtl.fusion import build_score_evaluation
    from easymtl.lifecycle import result_names
    from easymtl.models import build_model_tasks

    def built(model_config) -> list[str]:
        names = []
        for task in build_model_tasks(model_config):
            names += [m.name for m in task.make_metrics()] + [f"loss_{task.name}"]
        score = build_score_evaluation(model_config)
        return names + ["loss"] + ([m.name for m in score.make_metrics()] if score else [])

    # The sample configs' distinct towers and models (many share them), and every model.
    configs, seen = [], set()
    for path in CONFIGS:
        model_config = load_config(str(path)).model_config
        kind = model_config.WhichOneof("model")
        key = (kind, str(result_names(model_config)))
        if key not in seen:
            seen.add(key)
            configs.append(model_config)
    for block in MODEL_BLOCKS.values():
        config = PipelineConfig()
        text_format.Merge(block % {"towers": TOWERS}, config.model_config)
        configs.append(config.model_config)
    fused = PipelineConfig().model_config
    text_format.Merge(
        MODEL_BLOCKS["mmoe"] % {"towers": TOWERS}
        + 'fusion { towers { tower_name: "ctr" } label_names: "clk" label_names: "buy" }',
        fused,
    )
    configs.append(fused)
    for model_config in configs:
        assert result_names(model_config) == built(model_config), model_config
    esmm = PipelineConfig()
    text_format.Merge(MODEL_BLOCKS["esmm"], esmm.model_config)
    assert "auc_ctcvr" in result_names(esmm.model_config)  # ESMM's derived output
    assert result_names(fused)[-2:] == ["auc_score_clk", "auc_score_buy"]
