"""docs/quickstart.md, run as written: each ```bash block in order (but installing,
TensorBoard's server, Docker and curl), from a scratch directory whose samples/ has the
sample configs and a slice of the sample data (3,000 training rows, 1,000 eval rows) and
whose /tmp is its own. The output a block shows directly below it must be what the
command prints: each of easymtl's lines shown (log lines, errors, summaries) must be
printed with the same words, only the numbers, times and paths may differ.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES
from doc_output import commands_with_output, shape, unprinted

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

PAGE = ROOT / "docs" / "quickstart.md"
# Not run: installing (done), a server and its clients (not in a test).
NOT_RUN = ("python3 -m venv", "pip ", "tensorboard ", "docker ", "curl ")


def steps() -> list[tuple[str, list[str] | None]]:
    return commands_with_output(PAGE.read_text(encoding="utf-8"))


def test_the_page_has_its_steps():
    commands = [c for c, _ in steps()]
    assert "python -m easymtl.train --config samples/configs/ple_taobao.config" in commands
    assert any(c.startswith("python -m easymtl.predict") for c in commands)
    assert sum(shown is not None for _, shown in steps()) >= 5


def test_shape():
    assert shape("2026-12-03 07:54:24,606 INFO step 20/157 (13%, eta 4m16s)  loss 0.6002") == (
        "<time> INFO step <n>/<n> (<n>%, eta <dur>)  loss <n>"
    )
    assert shape("exported SavedModel to /tmp/x/ple_export") == "exported SavedModel to <path>"
    assert shape("40,000 rows in 270.9s") == shape("2,560 rows in 3s")
    assert shape("log  /tmp/pytest-1/x0/tmp/qs/train.log") == shape("log  /tmp/qs/train.log")
    assert shape("export runs/ple_taobao/export/1796595635") == "export runs/ple_taobao/export/<n>"


def test_quickstart_runs_as_written(tmp_path):
    data = tmp_path / "samples" / "data"
    data.mkdir(parents=True)
    (tmp_path / "samples" / "configs").symlink_to(SAMPLES / "configs")
    # 12 steps of 256 (§2), 24 of 128 (§8's 20-step run ends before its epoch does).
    for name, rows in (("taobao_mtl_train.csv", 3000), ("taobao_mtl_eval.csv", 1000)):
        lines = (SAMPLES / "data" / name).read_text().splitlines()[:rows]
        (data / name).write_text("\n".join(lines) + "\n")
    (tmp_path / "tmp").mkdir()
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(ROOT)
    problems = []
    for command, shown in steps():
        if command.startswith(NOT_RUN):
            continue
        command = command.replace("/tmp/", f"{tmp_path}/tmp/")
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=900,
        )  # fmt: skip
        printed = done.stdout + done.stderr
        assert done.returncode == 0, f"$ {command}\n{printed[-3000:]}"
        if shown is not None:
            problems += [
                f"$ {command[:100]}\n  shown, not printed: {line}\n  printed:\n{printed}"
                for line in unprinted(shown, printed)
            ]
    assert not problems, "\n".join(problems)
