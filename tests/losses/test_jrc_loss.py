"""jrc_loss: TorchEasyRec's JRC loss of a two-class tower, row by row."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from easymtl.errors import ConfigError
from easymtl.losses.jrc_loss import jrc_loss
from easymtl.protos import tower_pb2
from easymtl.tasks import build_task


def reference(logits, labels, sessions, alpha):
    """TorchEasyRec's JRCLoss (reduction "none") written out row by row: cross entropy,
    plus the softmax of a row against the other-class rows of its session."""
    out = []
    for i in range(len(labels)):
        z = logits[i] - logits[i].max()
        ce = -(z[labels[i]] - np.log(np.exp(z).sum()))
        peers = [
            j for j in range(len(labels))
            if sessions[j] == sessions[i] and (j == i or labels[j] != labels[i])
        ]  # fmt: skip
        own = np.array([logits[j, labels[i]] for j in peers])
        rank = np.log(np.exp(own - own.max()).sum()) + own.max() - logits[i, labels[i]]
        out.append(alpha * ce + (1 - alpha) * rank)
    return np.array(out)


@pytest.mark.parametrize("alpha", [0.5, 0.2])
def test_matches_torcheasyrec_row_by_row(alpha):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(12, 2)).astype(np.float32)
    labels = np.array([1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0])
    sessions = np.array(["u1", "u1", "u1", "u2", "u2", "u3", "u3", "u3", "u4", "u4", "u4", "u4"])
    got = jrc_loss(tf.constant(labels), tf.constant(logits), tf.constant(sessions), alpha)
    np.testing.assert_allclose(got, reference(logits, labels, sessions, alpha), rtol=1e-5)


def test_a_row_alone_in_its_session_has_only_cross_entropy():
    logits = tf.constant([[0.3, 1.2]])
    got = jrc_loss(tf.constant([1]), logits, tf.constant([7]), 0.5)
    ce = -np.log(np.exp(1.2) / (np.exp(0.3) + np.exp(1.2)))
    np.testing.assert_allclose(got, [0.5 * ce], rtol=1e-6)


def tower(text: str):
    return text_format.Parse(f'tower_name: "ctr" label_name: "clk" {text}', tower_pb2.TaskTower())


def test_two_class_tower_reads_its_session_column_and_class_one_for_auc():
    task = build_task(
        tower('num_class: 2 losses { jrc_loss { session_name: "user" } } metrics { auc {} }'),
        feature_columns={"user": "user_id"},
    )
    assert task.columns == ["clk", "user_id"]
    labels = {"clk": tf.constant([1, 0, 0, 1]), "user_id": tf.constant(["a", "a", "b", "b"])}
    logits = tf.constant([[0.0, 2.0], [0.0, -1.0], [1.0, 0.0], [0.0, 0.5]])
    loss = float(task.loss(labels, {"logits_ctr": logits}))
    want = reference(logits.numpy(), np.array([1, 0, 0, 1]), np.array(list("aabb")), 0.5)
    assert loss == pytest.approx(want.mean(), rel=1e-5)
    [auc] = task.make_metrics()
    probs = tf.nn.softmax(logits)
    task.update_metrics([auc], labels, {"probs_ctr": probs})
    assert float(auc.result()) == 1.0  # class 1's probability ranks both positives first


@pytest.mark.parametrize(
    "text, field, words",
    [
        ('losses { jrc_loss { session_name: "u" } }', "t.num_class", "more than 1"),
        ('num_class: 3 losses { jrc_loss { session_name: "u" } }', "t.num_class", "must be 2"),
        ('num_class: 2 losses { jrc_loss { session_name: "u" alpha: 2 } }',
         "t.losses[0].jrc_loss", "`alpha`"),
    ],
)  # fmt: skip
def test_bad_jrc_tower_is_a_config_error(text, field, words):
    with pytest.raises(ConfigError) as e:
        build_task(tower(text), where="t")
    assert e.value.field == field and words in e.value.message
