"""Tasks: task types from a tower's losses, their label domains, losses and metrics."""

from __future__ import annotations

import re

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


# ------------------------------------------------------------------------ sample spaces

SPACE_LABELS = {
    "y": tf.constant([1.0, 0.0, 1.0, 0.0]),
    "clk": tf.constant([1, 0, 1, 0]),
    "w": tf.constant([1.0, 2.0, 3.0, 4.0]),
}
Y_PRED = tf.constant([0.0, 1.0, 3.0, -2.0])
L2 = np.square(np.array([0.0, 1.0, 3.0, -2.0]) - np.array([1.0, 0.0, 1.0, 0.0]))  # 1 1 4 4


def space_task(text: str):
    return build_task(tower(f'losses {{ l2_loss {{}} }} task_space_indicator_label: "clk" {text}'))


def test_out_of_space_rows_contribute_exactly_out_task_space_weight():
    task = space_task("in_task_space_weight: 2 out_task_space_weight: 0.25")
    assert task.columns == ["y", "clk"]
    loss = float(task.loss(SPACE_LABELS, {"y_t": Y_PRED}))
    in_space = np.array([1, 0, 1, 0], bool)
    # TorchEasyRec's: the weights normalised by their batch mean, sum(w l) / sum(w).
    expected = (2.0 * L2[in_space].sum() + 0.25 * L2[~in_space].sum()) / (2 * 2 + 0.25 * 2)
    assert loss == pytest.approx(expected)


def test_average_over_task_space_divides_by_in_space_rows():
    task = space_task("out_task_space_weight: 0 average_over_task_space: true")
    loss = float(task.loss(SPACE_LABELS, {"y_t": Y_PRED}))
    assert loss == pytest.approx((L2[0] + L2[2]) / 2)  # the in-space mean
    empty = {**SPACE_LABELS, "clk": tf.zeros([4], tf.int32)}
    assert float(task.loss(empty, {"y_t": Y_PRED})) == 0.0


def test_sample_weights_multiply_the_space_weights():
    task = space_task('out_task_space_weight: 0.5 sample_weight_name: "w"')
    assert task.columns == ["y", "clk", "w"]
    loss = float(task.loss(SPACE_LABELS, {"y_t": Y_PRED}))
    weights = np.array([1.0, 2.0 * 0.5, 3.0, 4.0 * 0.5])
    assert loss == pytest.approx((weights * L2).sum() / weights.sum())
    plain = build_task(tower('losses { l2_loss {} } sample_weight_name: "w"'))
    w = np.array([1.0, 2.0, 3.0, 4.0])
    assert float(plain.loss(SPACE_LABELS, {"y_t": Y_PRED})) == pytest.approx(
        (w / w.mean() * L2).mean()
    )


def test_out_of_space_rows_get_no_gradient_at_weight_zero():
    task = build_task(
        tower(
            'losses { binary_cross_entropy {} } task_space_indicator_label: "clk" '
            "out_task_space_weight: 0"
        )
    )
    logits = tf.Variable([0.5, -1.0, 2.0, 0.3])
    with tf.GradientTape() as tape:
        loss = task.loss(SPACE_LABELS, {"logits_t": logits})
    grad = tape.gradient(loss, logits).numpy()
    assert grad[1] == 0.0 and grad[3] == 0.0
    assert grad[0] != 0.0 and grad[2] != 0.0


@pytest.mark.parametrize("in_space_only, expected", [(False, [0.5, 0.5]), (True, [1.0, 1.0])])
def test_metrics_see_every_row_unless_metrics_over_task_space(in_space_only, expected):
    task = build_task(
        tower(
            "losses { binary_cross_entropy {} } metrics { accuracy {} } metrics { auc {} } "
            'task_space_indicator_label: "clk" '
            f"metrics_over_task_space: {str(in_space_only).lower()}"
        )
    )
    metrics = task.make_metrics()
    labels = {"y": tf.constant([1.0, 0.0, 0.0, 1.0]), "clk": tf.constant([1, 1, 0, 0])}
    # In space: row 0 (positive, 0.9) and row 1 (negative, 0.2), both right; out of
    # space both wrong (TorchEasyRec scores them too: AUC 2 of 4 pairs, accuracy 2/4).
    probs = tf.constant([0.9, 0.2, 0.8, 0.1])
    task.update_metrics(metrics, labels, {"probs_t": probs})
    assert [float(m.result()) for m in metrics] == expected


@pytest.mark.parametrize(
    "text, field",
    [
        ("average_over_task_space: true", "t.average_over_task_space"),
        ("metrics_over_task_space: true", "t.metrics_over_task_space"),
        ("out_task_space_weight: 0", "t.out_task_space_weight"),
        ('task_space_indicator_label: "c" in_task_space_weight: -1', "t.in_task_space_weight"),
    ],
)
def test_bad_sample_space_is_a_config_error(text, field):
    with pytest.raises(ConfigError) as e:
        build_task(tower(f"losses {{ binary_cross_entropy {{}} }} {text}"), where="t")
    assert e.value.field == field


@pytest.mark.parametrize(
    "extra, words",
    [
        (
            'model_config { mmoe { task_towers { tower_name: "x" label_name: "buy" '
            'sample_weight_name: "price" losses { binary_cross_entropy {} } } } }',
            "model_config.mmoe.task_towers[2].sample_weight_name: 'price' is not one of "
            "data_config.sample_weight_fields (none given)",
        ),
        (
            'model_config { mmoe { task_towers { tower_name: "x" label_name: "buy" '
            'task_space_indicator_label: "pid" losses { binary_cross_entropy {} } } } }',
            "model_config.mmoe.task_towers[2].task_space_indicator_label: 'pid' is not one of "
            "data_config.label_fields",
        ),
        (
            'data_config { sample_weight_fields: "pid" }',
            "data_config.sample_weight_fields[0]: 'pid' is a STRING field",
        ),
    ],
)
def test_sample_space_columns_are_checked_against_the_data_config(tmp_path, extra, words):
    from conftest import make_config

    from easymtl.config import load_config
    from easymtl.errors import EasymtlError

    path = make_config(tmp_path, "mmoe", extra)
    with pytest.raises(EasymtlError, match=re.escape(words)):
        load_config(str(path))


def test_loss_scale_warning_for_a_swamping_regression_tower():
    from easymtl.tasks import loss_scale_warnings

    def named(name, text):
        return build_task(text_format.Parse(f'tower_name: "{name}" label_name: "{name}_label"'
                                            f" {text}", tower_pb2.TaskTower()))  # fmt: skip

    ctr = named("ctr", "losses { binary_cross_entropy {} }")
    cvr = named("cvr", "weight: 2 losses { binary_cross_entropy {} }")
    price = named("price", "losses { l2_loss {} }")
    losses = {"ctr": 0.5, "cvr": 0.1, "price": 5.0e5}
    (warning,) = loss_scale_warnings([ctr, cvr, price], losses)
    # Against the largest weighted classifier loss: ctr's 0.5 (cvr's is 2 x 0.1).
    assert warning.startswith("tower 'price': its loss (5e+05, weighted) is 1000000x tower 'ctr'")
    assert "'price_label'" in warning and "weight near 1e-06" in warning
    # The suggested weight, or a label on a scale like the others', warns no more.
    price.weight = 1e-6
    assert loss_scale_warnings([ctr, cvr, price], losses) == []
    price.weight = 1.0
    assert loss_scale_warnings([ctr, cvr, price], {**losses, "price": 40.0}) == []
    assert loss_scale_warnings([price], losses) == []  # nothing to swamp
