"""EasyRec's single-task rankers converted with EasyRec's meaning
(easymtl/convert/easyrec/rankers.py; the ranker's one task in models.py)."""

from __future__ import annotations

import pytest

from easymtl.protos import model_pb2

FEATURES = """
  features { input_names: "user_id" feature_type: IdFeature embedding_dim: 4
             hash_bucket_size: 100 }
  features { input_names: "cate_id" feature_type: IdFeature embedding_dim: 4
             hash_bucket_size: 100 }
  features { input_names: "price" feature_type: RawFeature }
  features { input_names: "seq" feature_type: SequenceFeature separator: "|"
             embedding_dim: 4 hash_bucket_size: 100 }
"""
WIDE_DEEP = """
  feature_groups { group_name: "wide" feature_names: ["user_id", "cate_id"] wide_deep: WIDE }
  feature_groups { group_name: "deep" feature_names: ["user_id", "cate_id"] wide_deep: DEEP }
"""
ALL = 'feature_groups { group_name: "all" feature_names: ["user_id", "cate_id"] }'
AUC = "eval_config { metrics_set { auc {} } }"
WIDE, DEEP, SEQUENCE = (model_pb2.FeatureGroupType.Value(v) for v in ("WIDE", "DEEP", "SEQUENCE"))


def _notes(conversion) -> str:
    return "\n".join(n.text for n in conversion.notes)


def test_wide_and_deep(easyrec):
    conversion = easyrec(
        features=FEATURES,
        groups=WIDE_DEEP,
        top=AUC,
        model='model_class: "WideAndDeep" wide_and_deep { wide_output_dim: 4 '
        "dnn { hidden_units: [8, 4] } final_dnn { hidden_units: [4] } }",
    )
    model = conversion.config.model_config
    wd = model.wide_and_deep
    assert list(wd.deep.hidden_units) == [8, 4] and wd.deep.use_bn  # EasyRec's DNN default
    assert list(wd.final.hidden_units) == [4]
    # wide_output_dim is each feature's wide embedding, from TensorFlow's initializer.
    assert wd.wide_embedding_dim == 4
    assert wd.wide_init_fn == "nn.init.normal_,mean=0,std=0.5"
    assert [(g.group_name, g.group_type) for g in model.feature_groups] == [
        ("wide", WIDE),
        ("deep", DEEP),
    ]
    # The ranker's one task: the first label, EasyRec's CLASSIFICATION, eval's metrics.
    assert model.label_name == "clk"
    assert [loss.WhichOneof("loss") for loss in model.losses] == ["binary_cross_entropy"]
    assert [m.WhichOneof("metric") for m in model.metrics] == ["auc"]
    assert model.l2_regularization == pytest.approx(1e-4 / 2)  # EasyRec's default, halved
    assert "differs: final reads [the wide term, deep's output]" in _notes(conversion)


def test_wide_and_deep_without_final_and_a_deep_wide_group_refused(easyrec, refused):
    model = easyrec(
        features=FEATURES,
        groups=WIDE_DEEP,
        model='model_class: "WideAndDeep" wide_and_deep { dnn { hidden_units: [8] } }',
    ).config.model_config
    assert not model.wide_and_deep.HasField("final")
    assert model.wide_and_deep.wide_embedding_dim == 1  # EasyRec's default wide_output_dim
    assert not model.metrics  # EasyRec computes the metrics of eval_config only
    lines = refused(
        features=FEATURES,
        groups=WIDE_DEEP.replace("WIDE", "DEEP"),
        model='model_class: "WideAndDeep" wide_and_deep { dnn { hidden_units: [8] } }',
    )
    assert len(lines) == 1 and "wide_deep: EasyRec's WideAndDeep reads the WIDE part" in lines[0]


def test_deepfm_reads_an_fm_group_where_there_is_one(easyrec):
    model = easyrec(
        features=FEATURES,
        groups=WIDE_DEEP,
        model='model_class: "DeepFM" deepfm { wide_output_dim: 16 dnn { hidden_units: [8] } '
        "l2_regularization: 1e-5 wide_regularization: 1e-4 }",
    ).config.model_config
    assert list(model.deepfm.deep.hidden_units) == [8] and not model.deepfm.HasField("final")
    assert model.deepfm.wide_embedding_dim == 16
    assert model.deepfm.wide_init_fn == "nn.init.normal_,mean=0,std=0.25"
    assert model.l2_regularization == pytest.approx(5e-6)
    fm = WIDE_DEEP + 'feature_groups { group_name: "fm" feature_names: ["user_id"] }'
    model = easyrec(
        features=FEATURES,
        groups=fm,
        model='model_class: "DeepFM" deepfm { dnn { hidden_units: [8] } '
        "final_dnn { hidden_units: [4] } }",
    ).config.model_config
    assert [g.group_name for g in model.feature_groups] == ["wide", "deep", "fm"]
    assert list(model.deepfm.final.hidden_units) == [4]


def test_dcn_reads_group_all_and_its_towers(easyrec, refused):
    conversion = easyrec(
        features=FEATURES,
        groups=ALL,
        model='model_class: "DCN" dcn { deep_tower { input: "all" dnn { hidden_units: [8] } } '
        'cross_tower { input: "all" cross_num: 2 } final_dnn { hidden_units: [4] } }',
    )
    dcn = conversion.config.model_config.dcn_v1
    assert dcn.cross.cross_num == 2
    assert list(dcn.deep.hidden_units) == [8] and list(dcn.final.hidden_units) == [4]
    assert "differs: the linear output has no bias" in _notes(conversion)
    lines = refused(
        features=FEATURES,
        groups=ALL,
        model='model_class: "DCN" dcn { deep_tower { input: "all" dnn { hidden_units: [8] } } '
        'cross_tower { input: "all" } }',
    )
    assert len(lines) == 1 and "dcn.final_dnn: easymtl's dcn_v1 needs final_dnn" in lines[0]


DLRM_GROUPS = """
  feature_groups { group_name: "dense" feature_names: "price" }
  feature_groups { group_name: "sparse" feature_names: ["user_id", "cate_id"] }
"""


def test_dlrm_bottom_top_and_interaction(easyrec, refused):
    conversion = easyrec(
        features=FEATURES,
        groups=DLRM_GROUPS,
        model='model_class: "DLRM" dlrm { bot_dnn { hidden_units: [8, 4] } '
        "top_dnn { hidden_units: [8] } }",
    )
    model = conversion.config.model_config
    assert list(model.dlrm.dense_mlp.hidden_units) == [8, 4]
    assert list(model.dlrm.final.hidden_units) == [8] and model.dlrm.arch_with_sparse
    assert model.l2_regularization == pytest.approx(1e-5 / 2)  # DLRM's default 1e-5
    assert "differs: final also reads dense_mlp's output" in _notes(conversion)
    lines = refused(
        features=FEATURES,
        groups=DLRM_GROUPS,
        model='model_class: "DLRM" dlrm { bot_dnn { hidden_units: [4] } '
        'top_dnn { hidden_units: [8] } arch_interaction_op: "cat" arch_interaction_itself: true }',
    )
    assert len(lines) == 2
    assert "dlrm.arch_interaction_op: easymtl's DLRM interacts by dot products" in lines[0]
    assert "dlrm.arch_interaction_itself: easymtl's DLRM has no self-interaction" in lines[1]


TOWERS_GROUPS = """
  feature_groups { group_name: "user" feature_names: "user_id" }
  feature_groups { group_name: "item" feature_names: "cate_id" }
"""
DIN = """
  seq_att_groups { group_name: "din" seq_att_map { key: "cate_id" hist_seq: "seq" } }
  multi_tower {
    towers { input: "user" dnn { hidden_units: [8] } }
    towers { input: "item" dnn { hidden_units: [8] } }
    din_towers { input: "din" dnn { hidden_units: [8, 1] } }
    final_dnn { hidden_units: [4] }
  }
"""


def test_multi_tower_and_multi_tower_din(easyrec, refused):
    model = easyrec(
        features=FEATURES,
        groups=TOWERS_GROUPS,
        model='model_class: "MultiTower" multi_tower { towers { input: "user" '
        'dnn { hidden_units: [8] } } towers { input: "item" dnn { hidden_units: [4] } } '
        "final_dnn { hidden_units: [4] } }",
    ).config.model_config
    assert [(t.input, list(t.mlp.hidden_units)) for t in model.multi_tower.towers] == [
        ("user", [8]),
        ("item", [4]),
    ]
    conversion = easyrec(
        features=FEATURES, groups=TOWERS_GROUPS, model=f'model_class: "MultiTowerDIN" {DIN}'
    )
    model = conversion.config.model_config
    din = model.multi_tower_din
    # seq_att_groups is a SEQUENCE group: its keys, then their hist_seq features.
    assert (model.feature_groups[-1].group_name, model.feature_groups[-1].group_type) == (
        "din",
        SEQUENCE,
    )
    assert list(model.feature_groups[-1].feature_names) == ["cate_id", "seq"]
    # The attention dnn's last unit is the score: easymtl's attn_mlp has it built in.
    assert din.din_towers[0].input == "din" and list(din.din_towers[0].attn_mlp.hidden_units) == [8]
    # A SequenceFeature without max_seq_len keeps every item (up to 10,000).
    seq = conversion.config.feature_configs[-1].sequence_id_feature
    assert seq.feature_name == "seq" and seq.sequence_length == 10000
    assert seq.sequence_delim == "|"
    lines = refused(
        features=FEATURES,
        groups=TOWERS_GROUPS,
        model='model_class: "MultiTowerDIN" ' + DIN.replace("[8, 1]", "[8, 2]"),
    )
    assert (
        len(lines) == 1 and "din_towers[0].dnn: EasyRec's DIN dnn ends with the score" in lines[0]
    )


MASKNET = """
  backbone {
    blocks {
      name: "mask_net"
      inputs { feature_group_name: "all" }
      keras_layer {
        class_name: "MaskNet"
        masknet {
          mask_blocks { aggregation_size: 16 output_size: 8 }
          mask_blocks { aggregation_size: 16 output_size: 8 }
          mlp { hidden_units: [8, 4] }
        }
      }
    }
    concat_blocks: ["mask_net"]
  }
  model_params { l2_regularization: 1e-6 }
"""


def test_rank_model_with_a_masknet_backbone(easyrec, refused):
    conversion = easyrec(features=FEATURES, groups=ALL, model=f'model_class: "RankModel" {MASKNET}')
    model = conversion.config.model_config
    module = model.mask_net.mask_net_module
    assert module.n_mask_blocks == 2 and module.use_parallel
    assert module.mask_block.aggregation_dim == 16 and module.mask_block.reduction_ratio == 0
    assert module.mask_block.hidden_dim == 8
    # EasyRec's keras MLP: BatchNorm, no biases, a linear last layer.
    assert list(module.top_mlp.hidden_units) == [8, 4] and not module.top_mlp.bias
    assert module.top_mlp.final_activation == "linear"
    assert model.l2_regularization == pytest.approx(5e-7)
    lines = refused(
        features=FEATURES,
        groups=ALL,
        model='model_class: "RankModel" '
        + MASKNET.replace("output_size: 8 }", "output_size: 4 projection_dim: 2 }", 1),
    )
    assert len(lines) == 2
    assert any("mask_blocks[0].projection_dim: not in easymtl's mask blocks" in x for x in lines)
    assert any("masknet.mask_blocks: easymtl's mask blocks are all alike" in x for x in lines)


def test_a_rankers_task_num_class_losses_label_and_sample_weight(easyrec, refused):
    dcn = (
        'dcn { deep_tower { input: "all" dnn { hidden_units: [8] } } '
        'cross_tower { input: "all" } final_dnn { hidden_units: [4] } }'
    )
    model = easyrec(
        features=FEATURES,
        groups=ALL,
        model=f'model_class: "DCN" {dcn} num_class: 3 label_name: "buy"',
    ).config.model_config
    assert model.num_class == 3 and model.label_name == "buy"
    assert [loss.WhichOneof("loss") for loss in model.losses] == ["softmax_cross_entropy"]
    model = easyrec(
        features=FEATURES,
        groups=ALL,
        data='sample_weight: "price"',
        model=f'model_class: "DCN" {dcn} losses {{ loss_type: BINARY_FOCAL_LOSS }}',
    ).config.model_config
    assert [loss.WhichOneof("loss") for loss in model.losses] == ["binary_focal_loss"]
    assert model.sample_weight_name == "price"
    lines = refused(
        features=FEATURES,
        groups=ALL,
        model=f'model_class: "DCN" {dcn} losses {{ loss_type: CLASSIFICATION weight: 2 }}',
    )
    assert len(lines) == 1 and "losses: a ranker's losses have one weight" in lines[0]


def test_rocket_launching(easyrec):
    model = easyrec(
        features=FEATURES,
        groups=ALL,
        model='model_class: "RocketLaunching" rocket_launching { share_dnn { hidden_units: [8] } '
        "booster_dnn { hidden_units: [8, 4] } light_dnn { hidden_units: [4] } "
        "feature_based_distillation: true feature_distillation_function: EUCLID }",
    ).config.model_config
    rocket = model.rocket_launching
    assert list(rocket.share_mlp.hidden_units) == [8]
    assert list(rocket.booster_mlp.hidden_units) == [8, 4]
    assert list(rocket.light_mlp.hidden_units) == [4]
    assert rocket.feature_based_distillation and rocket.feature_distillation_function == 1
    model = easyrec(
        features=FEATURES,
        groups=ALL,
        model='model_class: "RocketLaunching" rocket_launching { '
        "booster_dnn { hidden_units: [8] } light_dnn { hidden_units: [4] } }",
    ).config.model_config
    assert not model.rocket_launching.HasField("share_mlp")
    assert not model.rocket_launching.feature_based_distillation


def test_rankers_easymtl_has_no_model_for_are_one_line(refused):
    lines = refused(model='model_class: "FM" fm { }')
    assert len(lines) == 1
    assert "model_class: EasyRec's FM is a single-task ranker easymtl has no model for" in lines[0]
    assert "DeepFM" in lines[0] and "MaskNet" in lines[0]
