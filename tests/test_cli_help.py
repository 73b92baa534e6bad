"""--help of every command: its usage names the command as it is run, lists only flags that
work there, and tells of the dotted config overrides."""

from __future__ import annotations

import importlib

import pytest

COMMANDS = {
    "easymtl.train": "easymtl.train",
    "easymtl.export": "easymtl.export.__main__",
    "easymtl.predict": "easymtl.predict",
    "easymtl.compare": "easymtl.compare.__main__",
    "easymtl.evaluate": "easymtl.evaluate",
    "easymtl.tune": "easymtl.tune.__main__",
}


def help_text(module: str, capsys) -> str:
    main = importlib.import_module(COMMANDS[module]).main
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("module", list(COMMANDS))
def test_usage_names_the_command_and_mentions_dotted_overrides(module, capsys, monkeypatch):
    monkeypatch.setattr("sys.argv", [f"/src/{module.replace('.', '/')}.py"])
    text = help_text(module, capsys)
    assert text.startswith(f"usage: python -m {module} "), text
    assert "--<message>.<field>=<value>" in text and "--train_config.num_steps=20" in text

    # Run as the installed console script (pyproject's [project.scripts]).
    command = "easymtl-" + module.split(".")[1]
    monkeypatch.setattr("sys.argv", [f"/venv/bin/{command}"])
    assert help_text(module, capsys).startswith(f"usage: {command} ")


def test_predict_lists_only_its_flags(capsys):
    text = help_text("easymtl.predict", capsys)
    for flag in ("--saved_model_dir", "--input_path", "--output_path", "--edit_config_json"):
        assert flag in text
    # Shortcuts of fields that predict never reads.
    for flag in ("--model_dir", "--train_input_path", "--eval_input_path"):
        assert flag not in text


def test_predict_refuses_a_training_shortcut(capsys):
    from easymtl.predict import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--saved_model_dir", "x", "--input_path", "y", "--output_path", "z.csv",
              "--model_dir", "m"])  # fmt: skip
    assert exit_info.value.code == 2
    assert "unrecognized argument '--model_dir'" in capsys.readouterr().err


def test_a_run_leaves_the_callers_logging_as_it_was(caplog, capsys):
    """The CLI logs to stdout only while it runs: afterwards easymtl's records reach the
    caller's handlers again (a program or test that ran train.main in-process)."""
    import logging

    from easymtl.cli import run

    logger = logging.getLogger("easymtl")
    assert run(lambda: logger.info("inside")) == 0
    assert "inside" in capsys.readouterr().out and not caplog.records
    with caplog.at_level(logging.WARNING, logger="easymtl"):
        logger.warning("after")
    assert [r.getMessage() for r in caplog.records] == ["after"]


def test_a_cluster_task_prefixes_its_log_lines(monkeypatch, capsys):
    """Workers of one cluster started from one terminal: each line says whose it is."""
    import logging

    from easymtl.cli import run, task_name

    cluster = '{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}'
    monkeypatch.setenv("TF_CONFIG", cluster)
    assert task_name() == "worker 1"
    assert run(lambda: logging.getLogger("easymtl").info("step 20")) == 0
    assert " [worker 1] INFO step 20" in capsys.readouterr().out
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}')
    assert task_name() is None  # a cluster of one: no prefix
    monkeypatch.delenv("TF_CONFIG")
    assert task_name() is None
