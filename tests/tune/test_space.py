"""The search space of python -m easymtl.tune: every mistake is one line naming the key,
found before any trial runs."""

from __future__ import annotations

import pytest
from conftest import make_config

from easymtl.config import load_config
from easymtl.errors import EasymtlError
from easymtl.tune.__main__ import main
from easymtl.tune.space import Param, load_search_space
from easymtl.tune.study import default_direction

LR = "train_config.dense_optimizer.adam_optimizer.lr"


@pytest.fixture
def config(tmp_path):
    return load_config(str(make_config(tmp_path)))


def _space(tmp_path, text):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return str(path)


def test_a_valid_space_reads_every_kind(tmp_path, config):
    path = _space(
        tmp_path,
        f"""
{LR}: {{type: float, low: 1e-4, high: 1e-2, log: true}}
model_config.mmoe.num_expert: {{type: int, low: 2, high: 8, step: 2}}
model_config.mmoe.expert_mlp.hidden_units: [[32], [64, 32]]
feature_configs[feature_name=user_id].id_feature.embedding_dim:
  {{type: categorical, choices: [4, 8]}}
model_config.mmoe.task_towers[tower_name=ctr].weight: {{type: float, low: 0.5, high: 2}}
""",
    )
    params = load_search_space(path, config)
    assert params == [
        Param(LR, "float", low=1e-4, high=1e-2, log=True),
        Param("model_config.mmoe.num_expert", "int", low=2, high=8, step=2),
        Param("model_config.mmoe.expert_mlp.hidden_units", "categorical", choices=([32], [64, 32])),
        Param(
            "feature_configs[feature_name=user_id].id_feature.embedding_dim",
            "categorical",
            choices=(4, 8),
        ),
        Param("model_config.mmoe.task_towers[tower_name=ctr].weight", "float", low=0.5, high=2.0),
    ]


def test_a_list_choice_goes_through_optuna_as_json_and_comes_back_a_list():
    from optuna.trial import FixedTrial

    param = Param(
        "model_config.mmoe.expert_mlp.hidden_units", "categorical", choices=([32], [64, 32])
    )
    assert param.labels == ("[32]", "[64, 32]")
    assert param.suggest(FixedTrial({param.path: "[64, 32]"})) == [64, 32]
    scalar = Param("model_config.mmoe.num_expert", "categorical", choices=(2, 4))
    assert scalar.labels == (2, 4)
    assert scalar.suggest(FixedTrial({scalar.path: 4})) == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "model_config.mmoe.num_experts: [2, 3]",
            "space.yaml: model_config.mmoe.num_experts: MMoE has no field 'num_experts'",
        ),
        (
            "feature_configs[feature_name=nope].id_feature.embedding_dim: [4]",
            "feature_configs[feature_name=nope].id_feature.embedding_dim: no entry of "
            "feature_configs has feature_name = 'nope'",
        ),
        (
            "model_config.mmoe.num_expert: {type: integer, low: 2, high: 4}",
            "model_config.mmoe.num_expert: type: expected float, int or categorical, got 'integer'",
        ),
        (
            "model_config.mmoe.num_expert: {type: int, lo: 2, high: 4}",
            "model_config.mmoe.num_expert: unknown setting 'lo' (settings of int: low, high, "
            "log, step)",
        ),
        (
            "model_config.mmoe.num_expert: {type: int, low: 4, high: 2}",
            "model_config.mmoe.num_expert: low must be below high, got low 4, high 2",
        ),
        (
            "model_config.mmoe.num_expert: {type: int, low: 2.5, high: 4}",
            "model_config.mmoe.num_expert: low: expected an integer, got 2.5",
        ),
        (
            f"{LR}: {{type: float, low: 0, high: 0.1, log: true}}",
            f"{LR}: log: needs low > 0, got low 0.0",
        ),
        (
            f"{LR}: {{type: float, low: a, high: 0.1}}",
            f"{LR}: low: expected a number, got 'a'",
        ),
        (
            f"{LR}: {{type: float, low: 0.001, high: 0.1, log: true, step: 0.01}}",
            f"{LR}: step: cannot be combined with log: true",
        ),
        (
            "model_config.mmoe.num_expert: {type: float, low: 2, high: 4}",
            "model_config.mmoe.num_expert: type: float does not fit an integer field; "
            "use type: int",
        ),
        (
            "feature_configs[feature_name=user_id].id_feature.expression: "
            "{type: int, low: 2, high: 4}",
            "expression: type: int needs a number field, this one is not a number",
        ),
        (
            "model_config.mmoe.num_expert: {type: int, low: 0, high: 4}",
            "space.yaml: model_config.mmoe.num_expert: 0: must be positive",
        ),
        (
            "feature_configs[feature_name=user_id].id_feature.embedding_dim: [8, big]",
            "embedding_dim: could not convert string to float: 'big'",
        ),
        (
            "model_config.mmoe.num_expert: {type: categorical, choices: []}",
            "choices: expected a non-empty list",
        ),
        ("model_config.mmoe.num_expert: 3", "num_expert: expected a distribution such as"),
        ("- a\n- b", "space.yaml: expected a mapping of config field paths to distributions"),
        ("a: [", "space.yaml: not valid YAML"),
    ],
)
def test_a_bad_space_is_one_error_naming_the_key(tmp_path, config, text, message):
    with pytest.raises(EasymtlError) as caught:
        load_search_space(_space(tmp_path, text), config)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_space_file(tmp_path, config):
    with pytest.raises(EasymtlError, match="search space file not found"):
        load_search_space(str(tmp_path / "none.yaml"), config)


def test_the_command_stops_before_any_trial(tmp_path, capsys):
    config = make_config(tmp_path)
    space = _space(tmp_path, "model_config.mmoe.num_experts: [2, 3]")
    out = tmp_path / "out"
    args = ["--config", str(config), "--search_space", space, "--output_dir", str(out)]
    assert main([*args, "--metric", "auc_ctr"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: {space}: model_config.mmoe.num_experts: MMoE has no field")
    assert not out.exists()


def test_an_unknown_metric_lists_the_reported_ones(tmp_path, capsys):
    config = make_config(tmp_path)
    space = _space(tmp_path, "model_config.mmoe.num_expert: [2, 3]")
    out = tmp_path / "out"
    args = ["--config", str(config), "--search_space", space, "--output_dir", str(out)]
    assert main([*args, "--metric", "auc_ctcvr"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "--metric: " in err[0] and "reports no 'auc_ctcvr'" in err[0]
    assert "auc_ctr, loss_ctr, auc_cvr, loss_cvr, loss" in err[0]
    assert not out.exists()


def test_the_direction_follows_the_metric():
    assert default_direction("auc_ctr") == "maximize"
    assert default_direction("loss") == "minimize"
    assert default_direction("loss_cvr") == "minimize"
    assert default_direction("mean_squared_error_price") == "minimize"


def test_the_sample_search_space_fits_the_sample_config():
    from conftest import ROOT

    config = load_config(str(ROOT / "samples" / "configs" / "mmoe_taobao.config"))
    params = load_search_space(str(ROOT / "samples" / "tune" / "mmoe_taobao_space.yaml"), config)
    assert [p.kind for p in params] == ["float", "float", "int", "categorical"] + [
        "categorical",
        "float",
    ]
