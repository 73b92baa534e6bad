"""model_dir/report.html: self-contained (nothing fetched, no script), with each tower's
curves, the gates and the final metrics; rendered by a real headless Chromium, whose DOM
must hold the towers' names and charts, and whose screenshot must show them.

The browser check needs Chromium (Debian: ``apt-get install chromium``). Without it those
tests skip, saying so (CI installs nothing beside the README's command: its disk is small).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from conftest import FEW_FEATURES, SAMPLES, make_config

from easymtl.report import render
from easymtl.report.svg import line_chart, nice_ticks

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian: apt-get install chromium); "
    "the report is not checked in a browser",
)


def synthetic() -> dict:
    steps = [4, 8, 12]
    evaluations = [
        {
            "global_step": s,
            "eval_input_path": "eval.csv",
            "auc_ctr": 0.6 + s / 100,
            "loss_ctr": 0.5 - s / 100,
            "auc_cvr": 0.55 + s / 200,
            "loss_cvr": 0.1,
            "auc_ctcvr": 0.58,
            "loss": 0.6,
            "gate/mmoe/ctr/expert_0": 0.3,
            "gate/mmoe/ctr/expert_1": 0.7,
            "gate/mmoe/ctr/entropy": 0.6,
            "num_examples": 256,
        }
        for s in steps
    ]
    return {
        "model_dir": "runs/x",
        "model": "mmoe",
        "eval_data": "eval.csv",
        "train": {"loss/ctr": [(2, 0.7), (4, 0.6)], "loss": [(2, 0.9), (4, 0.8)]},
        "evaluations": evaluations,
        "result": evaluations[-1],
    }


def test_nice_ticks_cover_the_range():
    assert nice_ticks(0.0, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(3, 157) == [0, 50, 100, 150, 200]
    ticks = nice_ticks(5.0, 5.0)  # one value: a small range around it
    assert ticks[0] < 5.0 < ticks[-1]


def test_chart_has_a_line_and_a_dot_per_point():
    svg = line_chart({"train": [(1, 0.5), (2, 0.4)], "eval": [(2, 0.45)]}, "ctr", "loss-ctr")
    assert svg.count("<polyline") == 1  # one point is a dot, not a line
    assert svg.count("<circle") == 3 and "<title>eval at step 2: 0.4500</title>" in svg
    assert 'data-chart="loss-ctr"' in svg


def test_report_is_self_contained_and_has_every_part():
    html = render(synthetic())
    assert "<script" not in html and not re.search(r"""(src|href)=["']?https?:""", html)
    assert not re.search(r"url\(", html) and "@import" not in html
    for chart in ("loss-ctr", "metrics-ctr", "loss-cvr", "loss-total", "gate-mmoe/ctr"):
        assert f'data-chart="{chart}"' in html, chart
    assert 'data-chart="metrics-other"' in html and "auc_ctcvr" in html  # ESMM-like derived
    assert "num_examples" not in html.split('data-table="final"')[0]  # not a curve
    assert 'data-table="gates"' in html and "expert_1 0.700" in html
    # Over several evaluations a gate is lines; after one, bars.
    assert "<polyline" in html.split('data-chart="gate-mmoe/ctr"')[1].split("</svg>")[0]
    single = synthetic()
    single["evaluations"] = single["evaluations"][-1:]
    gate = render(single).split('data-chart="gate-mmoe/ctr"')[1].split("</svg>")[0]
    assert gate.count("<rect") == 2 and "<title>expert_1: 0.7000</title>" in gate


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small MMoE trained by the CLI, evaluated every 4 steps: model_dir/report.html."""
    from easymtl.train import main as train_main

    tmp = tmp_path_factory.mktemp("report")
    lines = (SAMPLES / "data" / "taobao_mtl_train.csv").read_text().splitlines()
    (tmp / "train.csv").write_text("\n".join(lines[:768]) + "\n")
    lines = (SAMPLES / "data" / "taobao_mtl_eval.csv").read_text().splitlines()
    (tmp / "eval.csv").write_text("\n".join(lines[:1000]) + "\n")  # 14 buys: AUCs defined
    extra = (
        f'train_input_path: "{tmp / "train.csv"}" eval_input_path: "{tmp / "eval.csv"}" '
        "train_config { num_epochs: 1 log_step_count_steps: 2 save_checkpoints_steps: 4 } "
        "eval_config { eval_interval_steps: 4 } data_config { batch_size: 64 } "
        "export_config { export_after_train: false }"
    )
    config = make_config(tmp, "mmoe", extra, features=FEW_FEATURES)
    assert train_main(["--config", str(config)]) == 0
    return tmp / "model"


@pytest.mark.slow
def test_training_writes_the_report(trained):
    html = (trained / "report.html").read_text()
    result = json.loads((trained / "eval_result.json").read_text())
    assert result["global_step"] == 12
    # Three evaluations (steps 4, 8, 12): a line through three dots per eval curve.
    assert "auc_ctr at step 4:" in html and "auc_ctr at step 12:" in html
    assert f"{result['auc_ctr']:.4f}" in html  # the final metrics
    for gate in ("mmoe/ctr", "mmoe/cvr"):
        assert f'data-chart="gate-{gate}"' in html


def chromium(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
@needs_chromium
def test_the_report_renders_in_headless_chromium(trained, tmp_path):
    url = (trained / "report.html").resolve().as_uri()
    dom = chromium("--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    # The towers by name, each with its loss and metric charts drawn as SVG lines.
    for tower in ("ctr", "cvr"):
        section = re.search(rf'<section class="tower" data-tower="{tower}">(.*?)</section>',
                            rendered, re.S)  # fmt: skip
        assert section, rendered[:2000]
        assert f"tower <code>{tower}</code>" in section.group(1)
        charts = re.findall(r'<svg class="chart" data-chart="([^"]+)"', section.group(1))
        assert charts == [f"loss-{tower}", f"metrics-{tower}"], charts
        assert section.group(1).count("<polyline") >= 3  # train and eval loss, AUC
    assert rendered.count('<svg class="chart"') >= 7  # + total loss and two gates
    assert 'data-table="final"' in rendered
    # A screenshot, looked at: not blank, and as wide as asked.
    shot = tmp_path / "report.png"
    done = chromium("--window-size=1200,1700", f"--screenshot={shot}", url)
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    image = pytest.importorskip("matplotlib.image").imread(str(shot))
    assert image.shape[1] == 1200
    assert image[..., :3].std() > 0.05  # charts and text, not an empty page
