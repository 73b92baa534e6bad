"""EasyRec's multi-task models, towers, regularization and optimizers converted with
EasyRec's meaning (easymtl/convert/easyrec/models.py, towers.py, backbone.py, train.py)."""

from __future__ import annotations

import pytest
from convert.easyrec_configs import TOWERS, easyrec_text

from easymtl.config import validate
from easymtl.convert.easyrec import convert

ALL = 'feature_groups { group_name: "all" feature_names: "user_id" }'


def test_mmoe_fields_and_easyrec_defaults(easyrec):
    model = easyrec(
        model='model_class: "MMoE" mmoe { expert_dnn { hidden_units: [16, 8] '
        'activation: "tf.nn.tanh" dropout_ratio: [0.1, 0.2] } num_expert: 3 ' + TOWERS + " }"
    ).config.model_config
    mmoe = model.mmoe
    assert list(mmoe.expert_mlp.hidden_units) == [16, 8] and mmoe.num_expert == 3
    # EasyRec's DNN normalizes by default; its activation names are TensorFlow's.
    assert mmoe.expert_mlp.use_bn and mmoe.expert_mlp.activation == "tanh"
    assert list(mmoe.expert_mlp.dropout_ratio) == pytest.approx([0.1, 0.2])
    assert [t.label_name for t in mmoe.task_towers] == ["clk", "buy"]
    assert mmoe.task_towers[0].losses[0].HasField("binary_cross_entropy")
    # l2_regularization: EasyRec's default 1e-4, whose penalty is s x sum(w^2) / 2.
    assert model.l2_regularization == pytest.approx(5e-5)


def test_mmoe_deprecated_experts_are_num_expert(easyrec, refused):
    experts = "".join(
        f'experts {{ expert_name: "e{i}" dnn {{ hidden_units: [8] }} }}' for i in range(3)
    )
    mmoe = easyrec(model=f'model_class: "MMoE" mmoe {{ {experts} {TOWERS} }}').config
    assert mmoe.model_config.mmoe.num_expert == 3
    assert list(mmoe.model_config.mmoe.expert_mlp.hidden_units) == [8]
    lines = refused(
        model='model_class: "MMoE" mmoe { experts { expert_name: "a" dnn { hidden_units: [8] } } '
        'experts { expert_name: "b" dnn { hidden_units: [4] } } ' + TOWERS + " }"
    )
    assert len(lines) == 1 and "mmoe.experts: easymtl's experts share one expert_mlp" in lines[0]


ESMM = """model_class: "ESMM" esmm {
  groups { input: "user" dnn { hidden_units: [8] } }
  groups { input: "item" dnn { hidden_units: [4] } }
  cvr_tower { tower_name: "cvr" dnn { hidden_units: [4] } }
  ctr_tower { tower_name: "ctr" dnn { hidden_units: [4] } }
  l2_regularization: 1e-4
}
embedding_regularization: 1e-4"""
ESMM_GROUPS = (
    'feature_groups { group_name: "user" feature_names: "user_id" }\n'
    'feature_groups { group_name: "item" feature_names: "cate_id" }'
)
ESMM_FEATURES = """
  features { input_names: "user_id" feature_type: IdFeature embedding_dim: 4 hash_bucket_size: 9 }
  features { input_names: "cate_id" feature_type: IdFeature embedding_dim: 4 hash_bucket_size: 9 }
"""


def test_esmm_groups_towers_and_summed_losses(easyrec):
    config = easyrec(model=ESMM, groups=ESMM_GROUPS, features=ESMM_FEATURES).config
    esmm = config.model_config.esmm
    assert [(g.input, list(g.mlp.hidden_units)) for g in esmm.groups] == [
        ("user", [8]),
        ("item", [4]),
    ]
    # EasyRec's ESMM takes label_fields in the order [cvr_tower, ctr_tower].
    assert esmm.cvr_tower.label_name == "clk" and esmm.ctr_tower.label_name == "buy"
    # EasyRec sums ESMM's losses over the batch (64 rows): easymtl averages them, so its
    # penalties are 1/64 of EasyRec's; Adam is invariant to the loss's scale.
    assert config.model_config.l2_regularization == pytest.approx(1e-4 / 2 / 64)
    assert config.model_config.embedding_regularization == pytest.approx(1e-4 / 2)
    assert config.train_config.dense_optimizer.adam_optimizer.lr == pytest.approx(0.001)


def test_embedding_regularization_is_summed_over_the_batch_in_easyrec(easyrec):
    config = easyrec(model=f'model_class: "SimpleMultiTask" simple_multi_task {{ {TOWERS} }} '
                     "embedding_regularization: 1e-4").config  # fmt: skip
    # EasyRec: s x sum over the batch's 64 rows of e^2 / 2; easymtl: per row's mean.
    assert config.model_config.embedding_regularization == pytest.approx(1e-4 * 64 / 2)


def test_dbmtl_bottom_experts_and_relations(easyrec, refused):
    model = """model_class: "DBMTL" dbmtl {
      bottom_dnn { hidden_units: [16] }
      expert_dnn { hidden_units: [8] } num_expert: 2
      task_towers { tower_name: "ctr" label_name: "clk" dnn { hidden_units: [8] }
                    relation_dnn { hidden_units: [4] } }
      task_towers { tower_name: "cvr" label_name: "buy" dnn { hidden_units: [8] }
                    relation_tower_names: ["ctr"] relation_dnn { hidden_units: [4] } }
    }"""
    dbmtl = easyrec(model=model).config.model_config.dbmtl
    assert list(dbmtl.bottom_mlp.hidden_units) == [16]
    assert list(dbmtl.expert_mlp.hidden_units) == [8] and dbmtl.num_expert == 2
    assert list(dbmtl.task_towers[1].relation_tower_names) == ["ctr"]
    assert list(dbmtl.task_towers[1].relation_mlp.hidden_units) == [4]
    lines = refused(model=model.replace(
        'relation_tower_names: ["ctr"] relation_dnn { hidden_units: [4] }',
        'relation_tower_names: ["ctr"]'))  # fmt: skip
    assert len(lines) == 1 and "task_towers[1].relation_dnn: EasyRec concatenates" in lines[0]


def test_ple_extraction_networks(easyrec, refused):
    net = """extraction_networks { network_name: "l%d" expert_num_per_task: 2 share_num: 1
      task_expert_net { hidden_units: [8] } share_expert_net { hidden_units: [8] } }"""
    model = f'model_class: "PLE" ple {{ {net % 1} {net % 2} {TOWERS} }}'
    ple = easyrec(model=model).config.model_config.ple
    assert [n.network_name for n in ple.extraction_networks] == ["l1", "l2"]
    assert ple.extraction_networks[1].share_num == 1
    assert list(ple.extraction_networks[0].share_expert_net.hidden_units) == [8]
    lines = refused(model=model.replace("share_expert_net { hidden_units: [8] } }", "}", 1))
    assert len(lines) == 1 and "share_expert_net: EasyRec's shared experts" in lines[0]


def test_other_groups_than_all_are_dropped_as_easyrec_ignores_them(easyrec, refused):
    conversion = easyrec(
        groups=ALL + '\nfeature_groups { group_name: "other" feature_names: "user_id" }'
    )
    assert [g.group_name for g in conversion.config.model_config.feature_groups] == ["all"]
    lines = refused(groups='feature_groups { group_name: "users" feature_names: "user_id" }')
    assert len(lines) == 1 and "reads feature group 'all', which is not there" in lines[0]


def test_task_space_and_sample_weight(easyrec):
    towers = """task_towers { tower_name: "ctr" label_name: "clk" }
      task_towers { tower_name: "cvr" label_name: "buy" task_space_indicator_label: "clk"
                    out_task_space_weight: 0 metrics_set { gauc { uid_field: "user_id" } } }
      task_towers { tower_name: "ios" label_name: "clk" task_space_indicator_name: "cate_id"
                    task_space_indicator_value: "7" use_sample_weight: false }"""
    config = easyrec(
        model=f'model_class: "SimpleMultiTask" simple_multi_task {{ {towers} }}',
        data='sample_weight: "price"',
    ).config
    ctr, cvr, ios = config.model_config.simple_multi_task.task_towers
    assert ctr.sample_weight_name == "price" and not ios.sample_weight_name
    # EasyRec averages a loss over its rows of non-zero weight: the task space's here.
    assert cvr.task_space_indicator_label == "clk" and cvr.average_over_task_space
    assert cvr.metrics[0].grouped_auc.grouping_key == "user_id"
    assert cvr.metrics[0].grouped_auc.average == "macro"
    transform = config.data_config.label_transforms[0]
    assert (transform.label_name, transform.input_name, transform.equals) == (
        "ios_task_space",
        "cate_id",
        "7",
    )
    assert ios.task_space_indicator_label == "ios_task_space"


def test_losses(easyrec, refused):
    towers = """task_towers { tower_name: "ctr" label_name: "clk"
        losses { loss_type: BINARY_FOCAL_LOSS binary_focal_loss { gamma: 3 alpha: 0.25 } } }
      task_towers { tower_name: "cvr" label_name: "buy" loss_type: L2_LOSS weight: 2 }"""
    model = f'model_class: "SimpleMultiTask" simple_multi_task {{ {towers} }}'
    ctr, cvr = easyrec(model=model).config.model_config.simple_multi_task.task_towers
    assert ctr.losses[0].binary_focal_loss.gamma == 3
    assert ctr.losses[0].binary_focal_loss.alpha == pytest.approx(0.25)
    assert cvr.losses[0].HasField("l2_loss") and cvr.weight == 2
    lines = refused(model=model.replace("L2_LOSS", "JRC_LOSS"))
    assert len(lines) == 1 and "loss_type: JRC_LOSS is not converted" in lines[0]


AITM = """model_class: "MultiTaskModel"
  backbone {
    blocks { name: "bottom" inputs { feature_group_name: "all" }
             keras_layer { class_name: "MLP" mlp { hidden_units: [16, 8] } } }
    blocks { name: "t1" inputs { block_name: "bottom" }
             keras_layer { class_name: "MLP" mlp { hidden_units: 4 } } }
    blocks { name: "t2" inputs { block_name: "bottom" }
             keras_layer { class_name: "MLP" mlp { hidden_units: 4 } } }
    blocks { name: "a2" inputs { block_name: "t2" } inputs { block_name: "t1" }
             merge_inputs_into_list: true
             keras_layer { class_name: "AITMTower" aitm { transfer_mlp { hidden_units: 4 } } } }
    output_blocks: ["t1", "a2"]
  }
  model_params {
    task_towers { tower_name: "ctr" label_name: "clk" dnn { hidden_units: 2 } }
    task_towers { tower_name: "cvr" label_name: "buy" dnn { hidden_units: 2 }
      relation_tower_names: "ctr"
      losses { loss_type: CLASSIFICATION } losses { loss_type: ORDER_CALIBRATE_LOSS weight: 0.3 } }
    l2_regularization: 1e-6
  }"""


def test_aitm_backbone(easyrec, refused):
    model = easyrec(model=AITM).config.model_config
    aitm = model.aitm
    # EasyRec's backbone MLP: BatchNorm, no bias, last layer linear.
    assert list(aitm.bottom_mlp.hidden_units) == [16, 8]
    assert aitm.bottom_mlp.final_activation == "linear" and not aitm.bottom_mlp.bias
    assert [list(t.mlp.hidden_units) for t in aitm.task_towers] == [[4], [4]]
    assert [list(m.hidden_units) for m in aitm.output_mlps] == [[2], [2]]
    assert aitm.output_mlps[0].use_bn and aitm.output_mlps[0].activation == "relu"
    assert list(aitm.info_mlp.hidden_units) == [4]
    assert aitm.stop_gradient and aitm.ait_attention == "own_query"
    assert aitm.calibrator_weight == pytest.approx(0.3)
    assert model.l2_regularization == pytest.approx(5e-7)
    # Without relation_tower_names EasyRec's calibration adds nothing.
    model = easyrec(model=AITM.replace('relation_tower_names: "ctr"', "")).config.model_config
    assert model.aitm.calibrator_weight == 0
    lines = refused(
        model=AITM.replace('output_blocks: ["t1", "a2"]', 'output_blocks: ["t1", "t2"]')
    )
    assert len(lines) == 1 and "backbone.output_blocks: this backbone is not converted" in lines[0]


@pytest.mark.parametrize(
    ("optimizer", "check"),
    [
        (
            "adam_optimizer { learning_rate { exponential_decay_learning_rate { "
            "initial_learning_rate: 0.01 decay_steps: 100 decay_factor: 0.5 burnin_steps: 10 "
            "min_learning_rate: 0.0001 } } } embedding_learning_rate_multiplier: 10",
            lambda t: (
                t.sparse_optimizer.adam_optimizer.lr == pytest.approx(0.1)
                and t.dense_optimizer.adam_optimizer.lr == pytest.approx(0.01)
                and t.dense_optimizer.exponential_decay_learning_rate.decay_size == 100
                # EasyRec's burn-in at rate 0 holds the peak rate.
                and t.dense_optimizer.exponential_decay_learning_rate.warmup_size == 10
                and t.dense_optimizer.exponential_decay_learning_rate.warmup_learning_rate
                == pytest.approx(0.01)
                and t.sparse_optimizer.exponential_decay_learning_rate.min_learning_rate
                == pytest.approx(0.001)
            ),
        ),
        (
            "adagrad_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.1 } } }",
            lambda t: (
                t.sparse_optimizer.adagrad_optimizer.initial_accumulator_value
                == pytest.approx(0.1)  # TensorFlow 1's default
                and t.dense_optimizer.adagrad_optimizer.initial_accumulator_value
                == pytest.approx(0.1)
            ),
        ),
        (
            "momentum_optimizer { learning_rate { constant_learning_rate { learning_rate: 0.1 } } "
            "momentum_optimizer_value: 0.5 }",
            lambda t: (
                t.dense_optimizer.sgd_optimizer.momentum == pytest.approx(0.5)
                and t.sparse_optimizer.HasField("sgd_optimizer")
            ),
        ),
    ],
)
def test_one_optimizer_is_the_sparse_and_dense_pair(easyrec, optimizer, check):
    train = easyrec().config.train_config  # the test configs' Adam
    assert train.sparse_optimizer.adam_optimizer.lr == pytest.approx(0.001)
    assert train.dense_optimizer.adam_optimizer.lr == pytest.approx(0.001)
    text = f"optimizer_config {{ {optimizer} }}"
    source = easyrec_text().replace(
        "optimizer_config { adam_optimizer { learning_rate { constant_learning_rate {\n"
        "    learning_rate: 0.001 } } } }",
        text,
    )
    assert text in source
    assert check(convert(source, "er.config", validate).config.train_config)


def test_two_optimizers_are_embeddings_then_the_rest(easyrec):
    second = (
        "optimizer_config { adam_optimizer { learning_rate { constant_learning_rate { "
        "learning_rate: 0.003 } } } }"
    )
    train = easyrec(train=second).config.train_config
    assert train.sparse_optimizer.adam_optimizer.lr == pytest.approx(0.001)
    assert train.dense_optimizer.adam_optimizer.lr == pytest.approx(0.003)


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ("optimizer_config { ftrl_optimizer {} }", "easymtl.convert reads adam_optimizer"),
        ("fine_tune_checkpoint: 'x'", "an EasyRec (TensorFlow 1) checkpoint"),
        ("freeze_gradient: 'x'", "train_config.freeze_gradient: not in easymtl"),
    ],
)
def test_train_refusals(refused, train, message):
    lines = refused(train=train)
    assert any(message in line for line in lines), lines
