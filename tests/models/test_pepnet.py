"""PEPNet (TorchEasyRec's pepnet): gate units, EPNet over the domain group, PPNet over
the uia group, per-domain towers; config checks; it learns the sample data."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import FEW_FEATURES, LEARNING_FEATURES, make_config

from easymtl.config import load_config
from easymtl.errors import EasymtlError
from easymtl.layers.pepnet import GateNU, PEPNet

X = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
D = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
U = np.random.default_rng(2).normal(size=(4, 5)).astype("float32")


def test_gate_unit_is_gamma_times_a_sigmoid():
    gate = GateNU(4, 2, gamma=2.0)
    gate.build((None, 3))
    for w in gate.weights:
        w.assign(np.zeros(w.shape, "float32"))
    np.testing.assert_allclose(gate(np.ones((2, 3), "float32")), np.ones((2, 2)))  # 2 x 0.5
    assert GateNU.from_config(gate.get_config()).get_config() == gate.get_config()
    with pytest.raises(ValueError, match="`hidden_dim`"):
        GateNU(0, 2)


def test_epnet_scales_the_main_features_by_a_gate_that_gets_no_gradient_into_them():
    net = PEPNet(2, use_epnet=True)
    main = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(main)
        reps = net(main, tf.constant(D))
        total = tf.reduce_sum(reps[0])
    assert len(reps) == 2 and reps[0] is reps[1]  # no PPNet: both tasks read EPNet's
    gate = net.epnet(tf.concat([D, X], axis=-1))
    np.testing.assert_allclose(reps[0], X * gate.numpy(), rtol=1e-6)
    # TorchEasyRec detaches the main features in the gate's input: d out / d main = gate.
    np.testing.assert_allclose(tape.gradient(total, main), gate, rtol=1e-5)


def test_ppnet_gates_every_hidden_layer_of_each_task():
    net = PEPNet(2, ppnet_hidden_units=[8, 4], use_ppnet=True, use_epnet=True)
    reps = net(tf.constant(X), tf.constant(D), tf.constant(U))
    assert [tuple(r.shape) for r in reps] == [(4, 4), (4, 4)]
    assert not np.allclose(reps[0], reps[1])  # each task its own weights
    gate = net.gates[1][1]
    gate.gate.bias.assign(np.full((4,), -50.0, "float32"))  # task 1's last gate shut
    np.testing.assert_allclose(
        net(tf.constant(X), tf.constant(D), tf.constant(U))[1], 0.0, atol=1e-12
    )
    clone = PEPNet.from_config(net.get_config())
    assert clone.get_config() == net.get_config()
    with pytest.raises(ValueError, match="`ppnet_hidden_units`"):
        PEPNet(2, use_ppnet=True)


PEPNET_GROUPS = """model_config {
    feature_groups { group_name: "domain" feature_names: "price" group_type: DEEP }
    feature_groups { group_name: "uia" feature_names: ["user_id", "price"] group_type: DEEP }
    pepnet { ppnet_hidden_units: [8] %s
        task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [4] }
            losses { binary_cross_entropy {} } metrics { auc {} } }
        task_towers { tower_name: "cvr" label_name: "buy" mlp { hidden_units: [4] }
            losses { binary_cross_entropy {} } metrics { auc {} } } } }"""


def pepnet_config(tmp_path, extra: str = "", model: str = "", features=FEW_FEATURES, train=""):
    """A PEPNet config over FEW_FEATURES (its pepnet block replaces the oneof's
    simple_multi_task), with the "domain" and "uia" groups."""
    path = make_config(
        tmp_path,
        "simple_multi_task",
        extra=PEPNET_GROUPS % model
        + (train or " train_config { num_steps: 30 } data_config { batch_size: 128 } ")
        + extra,
        features=features,
    )
    return path


@pytest.mark.slow
def test_domain_towers_select_each_rows_domain_and_export_every_domain(tmp_path):
    from easymtl.runner import Runner

    config = load_config(
        str(pepnet_config(tmp_path, model='domain_input_name: "buy" task_domain_num: 2'))
    )
    runner = Runner(config)
    assert "buy" in runner.model.used_inputs
    features, labels = runner.split(next(iter(runner.build_dataset(False))))
    out = runner.model(features)
    buy = labels["buy"].numpy()
    want = np.where(buy == 1, out["probs_ctr_1"].numpy(), out["probs_ctr_0"].numpy())
    np.testing.assert_allclose(out["probs_ctr"], want, rtol=1e-6)
    assert {f"logits_cvr_{d}" for d in (0, 1)} <= set(out)


@pytest.mark.slow
def test_pepnet_learns_the_sample_data(tmp_path):
    from easymtl.runner import Runner

    train = " train_config { num_epochs: 1 } data_config { batch_size: 512 } "
    config = load_config(str(pepnet_config(tmp_path, features=LEARNING_FEATURES, train=train)))
    runner = Runner(config)
    assert runner.model.backbone.use_epnet and runner.model.backbone.use_ppnet
    runner.train()
    result = runner.evaluate()
    first, last = runner.history[0][1]["total"], runner.history[-1][1]["total"]
    assert last < first * 0.9, runner.history
    assert result["auc_ctr"] >= 0.6, result


@pytest.mark.parametrize(
    "edit, words",
    [
        ('model_config { pepnet { domain_input_name: "nope" } }',
         "domain_input_name: 'nope' is not one of data_config.input_fields"),
        ("model_config { pepnet { ppnet_dropout_ratio: [0.1, 0.2] } }",
         "ppnet_dropout_ratio: give one value"),
        ("model_config { pepnet { ppnet_activation: 'nn.Nope' } }", "ppnet_activation"),
    ],
)  # fmt: skip
def test_bad_pepnet_config_is_one_error_line(tmp_path, edit, words):
    with pytest.raises(EasymtlError, match=words):
        load_config(str(pepnet_config(tmp_path, edit)))


def test_uia_group_needs_ppnet_hidden_units(tmp_path):
    path = pepnet_config(tmp_path)
    path.write_text(path.read_text().replace("ppnet_hidden_units: 8", ""))
    with pytest.raises(EasymtlError, match='ppnet_hidden_units: is needed with a "uia"'):
        load_config(str(path))


def test_keras_layers_are_registered():
    assert keras.saving.get_registered_object("easymtl>PEPNet") is PEPNet
