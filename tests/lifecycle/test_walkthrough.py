"""docs/lifecycle.md's walkthrough, run as written: every ```bash block between its
walkthrough markers, in order, from a scratch directory that sees the repository's
samples/; the lines the page shows below a block are what it printed (but numbers and
times: tests/doc_output.py), and what the page says happened is checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from doc_output import commands_with_output, unprinted

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

PAGE = ROOT / "docs" / "lifecycle.md"


def walkthrough_blocks() -> list[str]:
    return [command for command, _ in walkthrough()]


def walkthrough() -> list[tuple[str, list[str] | None]]:
    """(bash block, the output the page shows below it) between the walkthrough markers."""
    text = PAGE.read_text(encoding="utf-8")
    start, end = text.index("<!-- walkthrough -->"), text.index("<!-- /walkthrough -->")
    return commands_with_output(text[start:end])


def test_the_walkthrough_has_its_days():
    blocks = walkthrough_blocks()
    joined = "\n".join(blocks)
    assert "mmoe_day1.config" in joined and "--continue_train" in joined
    assert len(blocks) >= 5


def test_walkthrough_runs_as_written(tmp_path):
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(ROOT)
    outputs, unshown = [], []
    for block, shown in walkthrough():
        expected = 2 if "# refused: exit status 2" in block else 0
        done = subprocess.run(
            ["bash", "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=1200,
        )  # fmt: skip
        assert done.returncode == expected, block + done.stdout + done.stderr
        outputs.append(done.stdout + done.stderr)
        # The lines the page shows are what the commands print (but numbers and times).
        unshown += [f"{block}\n  shown: {line}" for line in unprinted(shown or [], outputs[-1])]
    assert not unshown, "\n".join(unshown) + "\nprinted:\n" + "\n".join(outputs)
    log = "\n".join(outputs)
    v2 = tmp_path / "runs" / "life" / "v2"
    # Day 2 warm started from day 1: the price table and the ctcvr tower new, the
    # experts' first layers (one more input feature) fresh, the rest loaded.
    assert "warm start from runs/life/v1/model.ckpt-" in log
    assert "mmoe/features/price_emb/embeddings" in log and "mmoe/tower_ctcvr/" in log
    # Day 3 without --continue_train is refused; with it, run 2 goes on from day 2's end.
    assert "pass --continue_train to train it further" in log
    day2, day3 = json.loads((v2 / "runs.json").read_text())
    assert day3["start_step"] == day2["end_step"] and day3["train_input_path"].endswith("day3.csv")
    assert day2["warm_start"].startswith("runs/life/v1/model.ckpt-")
    # Early stopping ended day 3 before its 3 epochs, with the reason recorded.
    assert day3["stop_reason"].startswith("early stop: auc_cvr has not improved in 2 evaluations")
    # Every evaluation of both days kept; the best by auc_cvr exported and its checkpoint kept.
    entries = [json.loads(line) for line in (v2 / "eval_history.jsonl").read_text().splitlines()]
    assert {e["run"] for e in entries} == {1, 2}
    best = json.loads((v2 / "best" / "best.json").read_text())
    assert best["metric"] == "auc_cvr"
    assert best["value"] == max(e["auc_cvr"] for e in entries if e["auc_cvr"] is not None)
    assert (Path(tmp_path, best["export"]) / "saved_model.pb").exists()
    assert (v2 / "best" / f"{best['checkpoint']}.index").exists()
