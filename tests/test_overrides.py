"""Command-line config overrides: dotted flags, --edit_config_json, shortcuts."""

from __future__ import annotations

import pytest
from conftest import make_config

from easymtl import cli
from easymtl.errors import EasymtlError


def load(tmp_path, *argv):
    path = make_config(tmp_path, "mmoe")
    args = cli.parser("test").parse_args(["--config", str(path), *argv])
    return cli.load(args)


def test_dotted_flags_json_and_shortcuts(tmp_path):
    config = load(
        tmp_path,
        "--train_config.num_steps=7",
        "--data_config.shuffle",
        "false",
        "--edit_config_json",
        '{"data_config.batch_size": 64, '
        '"feature_configs[feature_name=price].raw_feature.boundaries": [1, 2, 3], '
        '"model_config.mmoe.task_towers[1].weight": 0.5}',
        "--model_dir",
        "/tmp/elsewhere",
    )
    assert config.train_config.num_steps == 7
    assert config.data_config.shuffle is False
    assert config.data_config.batch_size == 64
    price = [f for f in config.feature_configs if f.raw_feature.feature_name == "price"][0]
    assert list(price.raw_feature.boundaries) == [1, 2, 3]
    assert config.model_config.mmoe.task_towers[1].weight == 0.5
    assert config.model_dir == "/tmp/elsewhere"


def test_message_values_merge(tmp_path):
    config = load(
        tmp_path,
        "--train_config.dense_optimizer",
        "sgd_optimizer { lr: 0.5 }",
        "--model_config.mmoe.expert_mlp",
        '{"dropout_ratio": [0.1]}',
    )
    assert config.train_config.dense_optimizer.sgd_optimizer.lr == 0.5
    assert list(config.model_config.mmoe.expert_mlp.dropout_ratio) == pytest.approx([0.1])
    assert list(config.model_config.mmoe.expert_mlp.hidden_units) == [64, 32]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            ["--train_config.num_stepz=3"],
            "--train_config.num_stepz: TrainConfig has no field 'num_stepz'; did you mean "
            "num_steps or num_epochs? (see docs/config_reference.md#trainconfig)",
        ),
        (
            ["--model_config.mmoe.task_towers[0].label_nam=clk"],
            "TaskTower has no field 'label_nam'; did you mean label_name?",
        ),
        (
            ["--edit_config_json", '{"data_config.batch_sise": 3}'],
            "--edit_config_json: data_config.batch_sise: DataConfig has no field 'batch_sise'; "
            "did you mean batch_size",
        ),
        (["--train_config.num_steps=abc"], "--train_config.num_steps:"),
        (["--train_config.num_steps=-1"], "must not be negative"),
        (["--data_config.dataset_type=Foo"], "expected one of"),
        (["--model_config.mmoe.task_towers[5].weight=1"], "task_towers has 2 entries"),
        (["--model_config.mmoe.task_towers.weight=1"], "task_towers is repeated"),
        (
            ["--feature_configs[feature_name=nope].id_feature.embedding_dim=3"],
            "feature_name = 'nope'",
        ),
        (["--edit_config_json", "{not json"], "--edit_config_json: not valid JSON"),
        (["--edit_config_json", "[1]"], "expected a JSON object"),
    ],
)
def test_bad_override_names_flag_and_path(tmp_path, argv, expected):
    with pytest.raises(EasymtlError, match=None) as info:
        load(tmp_path, *argv)
    message = str(info.value)
    assert expected in message and "\n" not in message


def test_override_is_validated_like_the_file(tmp_path):
    with pytest.raises(EasymtlError, match=r"model_config\.mmoe\.num_expert: must be positive"):
        load(tmp_path, "--model_config.mmoe.num_expert=0")


def test_unknown_plain_flag_exits_2(tmp_path, capsys):
    path = make_config(tmp_path, "mmoe")
    with pytest.raises(SystemExit) as info:
        cli.parser("test").parse_args(["--config", str(path), "--bogus"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: unrecognized argument '--bogus'")
