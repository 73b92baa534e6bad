"""scripts/reproduce/census_income.py and samples/configs/census_group{1,2}_mmoe.config on
the UCI Census-Income (KDD) files, where this checkout has them beside it
(../shared/data/census_income_kdd); skipped elsewhere."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from conftest import ROOT

from easymtl.config import load_config
from easymtl.data import build_dataset

DATA_DIR = ROOT.parent / "shared" / "data" / "census_income_kdd"
pytestmark = pytest.mark.skipif(
    not (DATA_DIR / "census-income.data.csv.gz").exists(),
    reason=f"the UCI Census-Income (KDD) files are not in {DATA_DIR}",
)


def load_script():
    path = ROOT / "scripts" / "reproduce" / "census_income.py"
    spec = importlib.util.spec_from_file_location("census_income", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


census = load_script()


def positive_rates(group: int) -> dict[str, float]:
    """The derived labels' positive rates over the whole UCI training file."""
    config = load_config(str(ROOT / "samples" / "configs" / f"census_group{group}_mmoe.config"))
    path = census.find_file(str(DATA_DIR), "census-income.data")
    labels = list(config.data_config.label_fields)
    dataset = build_dataset(config.data_config, [path], labels, 65536, training=False)
    batches = list(dataset)
    return {k: float(np.concatenate([b[k].numpy() for b in batches]).mean()) for k in labels}


def test_labels_derived_from_the_uci_columns():
    # The data README: 12,382 of 199,523 rows earn 50000+ (6.2 %), 86,485 never married.
    rates = positive_rates(1)
    assert rates["income"] == pytest.approx(12_382 / 199_523, abs=1e-6)
    assert rates["marital"] == pytest.approx(86_485 / 199_523, abs=1e-6)
    # Some college or a degree: 27,820 + 5,358 + 4,363 + 19,865 + 6,541 + 1,793 + 1,263.
    assert positive_rates(2)["college"] == pytest.approx(67_003 / 199_523, abs=1e-6)


@pytest.mark.slow  # three trainings from the whole census files: half a minute
def test_the_script_runs_the_compare_report(tmp_path, capsys):
    argv = ["--data_dir", str(DATA_DIR), "--output_dir", str(tmp_path), "--groups", "1"]
    argv += ["--seeds", "1", "--num_steps", "3", "--max_rows", "500"]
    assert census.main([*argv, "--architectures", "single_task,mmoe"]) == 0
    table = (tmp_path / "group1" / "table.md").read_text()
    assert "| architecture | auc_income | auc_marital | seesaw |" in table
    assert "| mmoe (config) |" in table
    assert "[3/3] mmoe seed 0: auc_income " in capsys.readouterr().out


def test_a_missing_data_dir_is_one_error_line(tmp_path, capsys):
    assert census.main(["--data_dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --data_dir {tmp_path}: no census-income.data[.gz]")


def ple_seed0_aucs(model_dir: str, prior_bias: bool = True, num_steps: int = 150) -> dict:
    """Eval AUCs of the PLE that compare derives for group 1, seed 0 (the run whose income
    tower collapsed), after `num_steps` steps, on 5 x 4096 training rows."""
    import sys

    sys.path.insert(0, str(ROOT / "scripts" / "diagnose"))
    from ple_census import derived_config

    from easymtl.runner import Runner

    config = derived_config(str(DATA_DIR), 1, "ple", 0, model_dir)
    config.train_config.num_steps = num_steps
    config.train_config.ClearField("num_epochs")
    config.train_config.prior_bias = prior_bias
    config.eval_input_path = config.train_input_path
    config.eval_config.num_steps = 5
    runner = Runner(config)
    runner.train()
    return runner.evaluate()


@pytest.mark.slow
def test_ple_income_tower_learns_with_seed_0(tmp_path):
    """Measured (scripts/diagnose/ple_census.py): without train_config.prior_bias the
    income tower's hidden layer is zero on nearly every row by step 20 and the tower
    ends near chance (auc_income 0.58 at 400 steps); with it, 0.92. This test's 150
    steps measured 0.9351 with it and 0.5490 without (ple_seed0_aucs(prior_bias=False))."""
    result = ple_seed0_aucs(str(tmp_path / "model"))
    assert result["auc_income"] >= 0.85, result
    assert result["auc_marital"] >= 0.95, result
