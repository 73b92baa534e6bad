"""What a user sees when a command starts: a config or flag mistake is one `error:` line
and exit 2 before TensorFlow is imported; a run shows easymtl's lines, not TensorFlow's
C++ start-up chatter; an error after TensorFlow loaded is the last line, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FEW_FEATURES, SAMPLES, make_config

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

CHATTER = ("absl::InitializeLog", "port.cc", "cpu_feature_guard")

# Runs an entry point as `python -m` does, then reports on stdout whether TensorFlow was
# ever imported (an atexit hook runs after the command's SystemExit).
WRAPPER = """
import atexit, runpy, sys
atexit.register(lambda: print("TENSORFLOW_IMPORTED=%s" % ("tensorflow" in sys.modules)))
module, sys.argv = sys.argv[1], sys.argv[1:]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def run_entry(module: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WRAPPER, module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def assert_one_error_line_without_tensorflow(result, *expected: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in expected:
        assert text in lines[0]
    assert "TENSORFLOW_IMPORTED=False" in result.stdout, result.stdout


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path, "ple", "train_config { num_steps: 2 }", features=FEW_FEATURES)


def bad(config: Path, old: str, new: str) -> str:
    text = config.read_text()
    assert old in text
    path = config.with_name("bad.config")
    path.write_text(text.replace(old, new, 1))
    return str(path)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("expert_num_per_task: 1", "expert_num_per_task: 0", "expert_num_per_task: must be"),
        ("expert_num_per_task: 1", "expert_num_per_taskk: 1", "did you mean expert_num_per_task"),
        ('label_name: "clk"', 'label_name: "click"', "'click' is not one of"),
        ("embedding_dim: 8", "embedding_dim: 8 pooling: 'max'", "pooling"),
        ("binary_cross_entropy {", "binary_focal_loss { alpha: 2", "`alpha` must be in (0, 1)"),
        ("auc {", "auc { thresholds: 1", "`num_buckets` must be at least 2"),
    ],
)
def test_train_config_mistake_is_found_before_tensorflow(config, old, new, expected):
    result = run_entry("easymtl.train", "--config", bad(config, old, new))
    assert_one_error_line_without_tensorflow(result, expected)
    assert not (config.parent / "model").exists()


def test_flag_mistakes_are_found_before_tensorflow(config, tmp_path):
    cases = [
        ("easymtl.train", "--config", str(tmp_path / "absent.config")),
        ("easymtl.train", "--config", str(config), "--train_config.num_stepz=3"),
        ("easymtl.train", "--config", str(config), "--eval_only", "--eval_input_path="),
        ("easymtl.export", "--config", bad(config, "share_num: 1", "share_num: -1")),
        ("easymtl.export", "--config", str(config), "--export_dir", str(config)),
        ("easymtl.predict", "--saved_model_dir", str(tmp_path), "--input_path", "x.csv"),
        (
            "easymtl.predict",
            "--saved_model_dir",
            str(tmp_path),
            "--input_path",
            str(tmp_path / "none*.csv"),
            "--output_path",
            str(tmp_path / "out.csv"),
        ),
        ("easymtl.evaluate", "--config", bad(config, "share_num: 1", "share_num: -1")),
        ("easymtl.evaluate", "--config", str(config), "--eval_input_path="),
        ("easymtl.evaluate", "--config", str(config), "--continuous", "--checkpoint_path=x"),
        (
            "easymtl.compare",
            "--config",
            bad(config, "num_steps: 2", "num_steps: 0"),
            "--output_dir",
            str(tmp_path),
        ),
    ]
    for module, *args in cases:
        assert_one_error_line_without_tensorflow(run_entry(module, *args))


def test_every_sample_config_validates_without_tensorflow():
    code = (
        "import glob, sys\n"
        "from easymtl.config import load_config\n"
        "paths = sorted(glob.glob('samples/configs/**/*.config', recursive=True))\n"
        "assert paths\n"
        "for p in paths: load_config(p)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
        "print(len(paths))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(list((SAMPLES / "configs").rglob("*.config")))


def test_training_shows_no_tensorflow_startup_chatter(config):
    result = run_entry("easymtl.train", "--config", str(config), env={"TF_ENABLE_ONEDNN_OPTS": "1"})
    assert result.returncode == 0, result.stderr
    for line in result.stderr.splitlines():
        assert not any(c in line for c in CHATTER), result.stderr
    assert "TENSORFLOW_IMPORTED=True" in result.stdout
    assert "training done at step 2" in result.stdout, result.stdout


def test_error_after_tensorflow_loaded_is_the_last_line(config, tmp_path):
    missing = tmp_path / "no_such_eval.csv"
    result = run_entry(
        "easymtl.train",
        "--config",
        str(config),
        f"--eval_input_path={missing}",
        env={"TF_ENABLE_ONEDNN_OPTS": "1"},
    )
    assert result.returncode == 2, result.stderr
    assert "TENSORFLOW_IMPORTED=True" in result.stdout  # found after TensorFlow loaded
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: {config}: eval_input_path: no file matches {str(missing)!r}"]


def test_only_the_known_startup_lines_are_held_back():
    from easymtl.cli import _STARTUP_CHATTER

    held = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1796281814.564492   22390 port.cc:153] oneDNN custom operations are on.",
        "I0000 00:00:1796281814.906188   22390 cpu_feature_guard.cc:227] This TensorFlow binary",
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild "
        "TensorFlow with the appropriate compiler flags.",
    ]
    shown = [
        "E0000 00:00:1796281814.564492   22390 port.cc:153] something failed",
        "W0000 00:00:1796281814.564492   22390 cuda_dnn.cc:8] no GPU",
        "UserWarning: something Python said",
    ]
    assert all(_STARTUP_CHATTER.fullmatch(line) for line in held)
    assert not any(_STARTUP_CHATTER.fullmatch(line) for line in shown)
