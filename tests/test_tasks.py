"""Tasks: task types from a tower's losses, their label domains, losses and metrics."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from easymtl.errors import ConfigError
from easymtl.protos import tower_pb2
from easymtl.tasks import build_task


def tower(text: str):
    return text_format.Parse(f'tower_name: "t" label_name: "y" {text}', tower_pb2.TaskTower())


@pytest.mark.parametrize(
    "text, task_type, prediction, loss_input",
    [
        ("losses { binary_cross_entropy {} } losses { binary_focal_loss {} }", "binary",
         "probs_t", "logits_t"),
        ("losses { l2_loss {} } losses { huber_loss {} } metrics { mean_squared_error {} }",
         "regression", "y_t", "y_t"),
        ("num_class: 4 losses { softmax_cross_entropy {} } metrics { multiclass_auc {} }",
         "multiclass", "probs_t", "logits_t"),
    ],
)  # fmt: skip
def test_task_type_follows_the_losses(text, task_type, prediction, loss_input):
    task = build_task(tower(text))
    assert (task.task_type, task.prediction_name, task.loss_input_name) == (
        task_type,
        prediction,
        loss_input,
    )


@pytest.mark.parametrize(
    "text, field, words",
    [
        ("losses { softmax_cross_entropy {} }", "t.num_class", "more than 1"),
        ("num_class: 3 losses { l2_loss {} }", "t.num_class", "must be 1 for the regression"),
        ("num_class: 3 losses { binary_cross_entropy {} }", "t.num_class", "must be 1"),
        ("losses { binary_cross_entropy {} } losses { l2_loss {} }", "t.losses[1].l2_loss",
         "regression loss"),
        ("losses { l2_loss {} } metrics { auc {} }", "t.metrics[0].auc",
         "mean_absolute_error, mean_squared_error"),
        ("num_class: 3 losses { softmax_cross_entropy {} } metrics { accuracy { top_k: 4 } }",
         "t.metrics[0].accuracy", "`top_k`"),
        ("losses { binary_focal_loss { alpha: 2 } }", "t.losses[0].binary_focal_loss", "`alpha`"),
        ("losses { }", "t.losses[0]", "expected a loss"),
        ("", "t.losses", "at least one loss"),
    ],
)  # fmt: skip
def test_mismatch_is_a_config_error_naming_the_field(text, field, words):
    with pytest.raises(ConfigError) as e:
        build_task(tower(text), where="t")
    assert e.value.field == field and words in e.value.message


def test_label_domains():
    labels = {"y": tf.constant([0.0, 1.0, 2.0, -1.0, 0.5, np.nan, np.inf])}
    binary = build_task(tower("losses { binary_cross_entropy {} }"))
    regression = build_task(tower("losses { l2_loss {} }"))
    multiclass = build_task(tower("num_class: 3 losses { softmax_cross_entropy {} }"))
    assert binary.label_domain == "{0, 1}"
    assert regression.label_domain == "any finite number"
    assert multiclass.label_domain == "an integer in [0, 3)"
    expected = [
        (binary, [1, 1, 0, 0, 0, 0, 0]),
        (regression, [1, 1, 1, 1, 1, 0, 0]),
        (multiclass, [1, 1, 1, 0, 0, 0, 0]),
    ]
    for task, valid in expected:
        np.testing.assert_array_equal(task.valid_labels(labels).numpy(), np.array(valid, bool))


def test_losses_add_up_each_averaged_over_the_batch():
    task = build_task(tower("losses { l2_loss {} } losses { huber_loss { delta: 1 } }"))
    labels = {"y": tf.constant([0.0, 0.0])}
    outputs = {"y_t": tf.constant([0.5, 3.0])}
    # l2: (0.25 + 9) / 2; huber: (0.125 + 2.5) / 2
    assert float(task.loss(labels, outputs)) == pytest.approx(4.625 + 1.3125)


def test_multiclass_metrics_read_the_class_probabilities():
    task = build_task(
        tower(
            "num_class: 3 losses { softmax_cross_entropy {} } "
            "metrics { accuracy {} } metrics { multiclass_auc {} }"
        )
    )
    metrics = task.make_metrics()
    assert [m.name for m in metrics] == ["accuracy_t", "multiclass_auc_t"]
    probs = tf.constant([[0.7, 0.2, 0.1], [0.2, 0.2, 0.6], [0.5, 0.4, 0.1]])
    task.update_metrics(metrics, {"y": tf.constant([0, 2, 1])}, {"probs_t": probs})
    assert float(metrics[0].result()) == pytest.approx(2 / 3)
