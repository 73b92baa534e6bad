"""Blocks in multi-task models (docs/blocks.md): an MMoE expert, a shared bottom or a
DBMTL bottom that is a ranker's interaction network; their config errors; and DC2VR's."""

from __future__ import annotations

import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, TOWERS, make_config

from easymtl.config import load_config
from easymtl.errors import EasymtlError
from easymtl.layers.dcn import DCNV2
from easymtl.layers.masknet import MaskNet
from easymtl.models import build_model

DCN_V2 = """dcn_v2 { cross { cross_num: 2 low_rank: 4 } deep { hidden_units: [8] }
    final { hidden_units: [8] } }"""
MASK_NET = (
    "mask_net { n_mask_blocks: 2 mask_block { hidden_dim: 8 } top_mlp { hidden_units: [8] } }"
)
TWO = "num_expert: 2 %(towers)s"  # two experts, the sample's towers
BAYES_TOWERS = """
    task_towers { tower_name: "ctr" label_name: "clk" losses { binary_cross_entropy {} } }
    task_towers { tower_name: "cvr" label_name: "buy" losses { binary_cross_entropy {} } }"""


def config_with(tmp_path, block: str):
    path = make_config(tmp_path, "simple_multi_task", features=FEW_FEATURES)
    text = path.read_text()
    start = text.index("simple_multi_task {")
    end = text.index("\n}", start)  # the model_config's closing brace
    path.write_text(text[:start] + (block % {"towers": TOWERS}) + text[end:])
    return path


def first_rows(config, n: int = 4) -> dict:
    from conftest import SAMPLES

    from easymtl.protos import data_pb2

    fields = config.data_config.input_fields
    lines = (SAMPLES / "data" / "taobao_mtl_eval.csv").read_text().splitlines()[:n]
    cells = [line.split(",") for line in lines]
    return {
        f.input_name: tf.constant([c[i] for c in cells])
        if f.input_type == data_pb2.STRING
        else tf.strings.to_number([c[i] for c in cells], tf.int64)
        for i, f in enumerate(fields)
    }


@pytest.mark.parametrize(
    "block, layer",
    [
        (f"mmoe {{ expert {{ {DCN_V2} }} num_expert: 2 %(towers)s }}", DCNV2),
        (f"mmoe {{ expert {{ {MASK_NET} }} num_expert: 2 %(towers)s }}", MaskNet),
        (f"shared_bottom {{ bottom {{ {DCN_V2} }} %(towers)s }}", DCNV2),
        (
            f"dbmtl {{ {MASK_NET} bottom_mlp {{ hidden_units: [8] }} {BAYES_TOWERS} }}",
            MaskNet,
        ),
    ],
)
def test_a_block_serves_as_expert_or_bottom(tmp_path, block, layer):
    config = load_config(str(config_with(tmp_path, block)))
    model = build_model(config.model_config, config.feature_configs)
    outputs = model(first_rows(config), training=False)
    assert {"probs_ctr", "probs_cvr"} <= set(outputs)
    assert any(isinstance(sub, layer) for sub in model._flatten_layers())


@pytest.mark.parametrize(
    "block, expected",
    [
        (
            f"mmoe {{ expert_mlp {{ hidden_units: [8] }} expert {{ {DCN_V2} }} {TWO} }}",
            "model_config.mmoe.expert_mlp: set expert_mlp or expert (any block",
        ),
        (
            "mmoe { num_expert: 2 %(towers)s }",
            "model_config.mmoe.expert_mlp: set expert_mlp or expert",
        ),
        (
            "shared_bottom { bottom { } %(towers)s }",
            "model_config.shared_bottom.bottom: expected one of",
        ),
        (
            "mmoe { expert { fm { field_dim: 4 } } num_expert: 2 %(towers)s }",
            "model_config.mmoe.expert.fm.field_dim: is 4, but feature 'user_id' of the model's "
            "input is 8 wide",
        ),
        (
            "mmoe { expert { dcn_v2 { cross { low_rank: 0 } final { hidden_units: [4] } } } "
            + TWO
            + " }",
            "model_config.mmoe.expert.dcn_v2.cross.low_rank: must be positive",
        ),
    ],
)
def test_block_config_errors(tmp_path, block, expected):
    with pytest.raises(EasymtlError) as info:
        load_config(str(config_with(tmp_path, block)))
    assert expected in str(info.value)


def test_field_blocks_read_embeddings_of_their_field_dim(tmp_path):
    block = "mmoe { expert { cin { field_dim: 8 cin { cin_layer_size: [4] } } } " + TWO + " }"
    config = load_config(str(config_with(tmp_path, block)))
    model = build_model(config.model_config, config.feature_configs)
    assert model(first_rows(config))["probs_ctr"].shape == (4,)


DC2VR_TOWERS = """
    task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [8] }
        losses { binary_cross_entropy {} } }
    task_towers { tower_name: "cvr" label_name: "buy" %s
        losses { binary_cross_entropy {} } }"""


@pytest.mark.parametrize(
    "cvr, expected",
    [
        (
            'intervention_tower_names: "cvr" low_rank_dim: 2',
            "intervention_tower_names[0]: 'cvr' is not a tower listed before 'cvr' (ctr)",
        ),
        (
            "low_rank_dim: 2",
            "task_towers[1].intervention_tower_names: an intervention needs both low_rank_dim "
            "and intervention_tower_names",
        ),
    ],
)
def test_dc2vr_config_errors(tmp_path, cvr, expected):
    block = "dc2vr { bottom_mlp { hidden_units: [16] }" + DC2VR_TOWERS % cvr + " }"
    with pytest.raises(EasymtlError) as info:
        load_config(str(config_with(tmp_path, block)))
    assert expected in str(info.value)
