"""TorchEasyRec's own ranking configs (copied unchanged into tests/models/tzrec/) load,
train a few steps, export and serve with `saved_model_cli run`, their input rewritten to
generated data by scripts/tzrec_ranking_configs.py: one config per ranker of
TorchEasyRec's examples (deepfm, dlrm, masknet, multi_tower, multi_tower_din,
rocket_launching; its wukong_criteo.config is refused, as TorchEasyRec's WuKong refuses
it: docs/rankers.md). The Criteo configs' tables (of 40,000,000 rows) are capped here,
the one change beyond the input that the machine needs; scripts/tzrec_ranking_configs.py
runs all 23 (docs/rankers.md)."""

from __future__ import annotations

import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

from tzrec_ranking_configs import run_config  # noqa: E402

from easymtl.testing.clean_process import saved_model_cli  # noqa: E402
from easymtl.train import main as train_main  # noqa: E402

pytestmark = pytest.mark.slow  # trains, and serves with saved_model_cli

CONFIGS = ROOT / "tests" / "models" / "tzrec"


OUTPUTS = {"logits", "probs"}
LIGHT = {"logits_light", "probs_light", "probs1_light"}  # rocket_launching serves its light net


@pytest.mark.parametrize(
    "name, outputs",
    [
        ("deepfm_criteo", OUTPUTS),
        ("dlrm_criteo", OUTPUTS),
        ("masknet_criteo", OUTPUTS),
        ("multi_tower_taobao", OUTPUTS),
        ("multi_tower_din_taobao", OUTPUTS),
        ("rocket_launching_criteo", LIGHT),
    ],
)
def test_torcheasyrec_ranking_config_trains_and_serves(tmp_path, name, outputs):
    result = run_config(
        str(CONFIGS / f"{name}.config"),
        str(tmp_path),
        rows=64,
        steps=2,
        max_table_rows=10000,
        train=train_main,
        serve=saved_model_cli,
    )
    assert result.stage == "served", result.error
    assert set(result.outputs) == outputs
