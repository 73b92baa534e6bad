"""GAUC: the mean of per-group AUCs (plain, as TorchEasyRec's, or impression-weighted),
groups with one class skipped; streaming over batches, bounded by the rows seen, read
through a task's columns."""

import math

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from easymtl.metrics.grouped_auc import GroupedAUC
from easymtl.protos import tower_pb2
from easymtl.tasks import build_task
from easymtl.testing import exact_auc

# user, label, prediction
TABLE = [
    ("a", 1, 0.9), ("a", 0, 0.4), ("a", 0, 0.95),  # 1 of 2 pairs: AUC 0.5, 3 rows
    ("b", 1, 0.8), ("b", 1, 0.3), ("b", 0, 0.5), ("b", 0, 0.1),  # 3 of 4: 0.75, 4 rows
    ("c", 1, 0.7), ("c", 1, 0.2),  # positives only: skipped
    ("d", 0, 0.6),  # one row: skipped
    ("e", 0, 0.6), ("e", 1, 0.6),  # a tie: 0.5, 2 rows
]  # fmt: skip
WEIGHTED = (3 * 0.5 + 4 * 0.75 + 2 * 0.5) / (3 + 4 + 2)
MACRO = (0.5 + 0.75 + 0.5) / 3


def _columns(rows):
    users, labels, preds = zip(*rows)
    return list(labels), list(preds), list(users)


@pytest.mark.parametrize("average, expected", [("weighted", WEIGHTED), ("macro", MACRO)])
def test_hand_computed_table(average, expected):
    gauc = GroupedAUC("user_id", 1000, average)
    gauc.update_state(*_columns(TABLE))
    assert float(gauc.result()) == pytest.approx(expected, abs=1e-6)


def test_undefined_when_every_group_has_one_class():
    gauc = GroupedAUC("user_id", 100, "weighted")
    gauc.update_state(*_columns([r for r in TABLE if r[0] in ("c", "d")]))
    assert math.isnan(float(gauc.result()))
    gauc.update_state(*_columns([r for r in TABLE if r[0] == "e"]))
    assert float(gauc.result()) == pytest.approx(0.5)


def test_streams_over_batches_with_groups_split_between_them():
    gauc = GroupedAUC("user_id", 1000, "weighted")
    rows = TABLE[::-1]
    for lo in (0, 4, 5, 9):  # user b's rows fall in two batches, e's in another
        gauc.update_state(*_columns(rows[lo : lo + {0: 4, 4: 1, 5: 4, 9: 3}[lo]]))
    assert float(gauc.result()) == pytest.approx(WEIGHTED, abs=1e-6)


def test_integer_group_ids_and_a_compiled_update():
    gauc = GroupedAUC("user_id", 1000, "weighted")
    ids = {"a": 11, "b": 12, "c": 13, "d": 14, "e": 15}
    labels, preds, users = _columns(TABLE)

    @tf.function
    def update(y, p, g):
        gauc.update_state(y, p, g)

    update(tf.constant(labels), tf.constant(preds), tf.constant([ids[u] for u in users], tf.int64))
    assert float(gauc.result()) == pytest.approx(WEIGHTED, abs=1e-6)


def test_matches_exact_per_group_aucs_and_stays_bounded():
    rng = np.random.default_rng(0)
    n = 20000
    users = rng.integers(0, 500, n)
    bias = rng.normal(0, 1, 500)[users]
    logits = bias + rng.normal(-1.5, 1.0, n)
    labels = rng.random(n) < 1 / (1 + np.exp(-(logits + rng.normal(0, 1.0, n))))
    probs = 1 / (1 + np.exp(-logits))
    gauc = GroupedAUC("user_id", 10000, "weighted")
    for lo in range(0, n, 3000):
        s = slice(lo, lo + 3000)
        gauc.update_state(labels[s], probs[s], users[s])
    total = weight = 0.0
    for u in np.unique(users):
        mask = users == u
        if 0 < labels[mask].sum() < mask.sum():
            total += mask.sum() * exact_auc(labels[mask], probs[mask])
            weight += mask.sum()
    assert float(gauc.result()) == pytest.approx(total / weight, abs=1e-3)
    # Within-group ranking differs from the global one: the user bias inflates the AUC.
    assert exact_auc(labels, probs) > total / weight + 0.03
    entries = int(gauc._counts.size())
    assert entries <= n and int(gauc.num_groups.numpy()) == 500


def test_reset_config_round_trip_and_bad_arguments():
    gauc = GroupedAUC("uid", 50, "macro", name="grouped_auc_ctr")
    gauc.update_state(*_columns(TABLE))
    gauc.reset_state()
    assert math.isnan(float(gauc.result())) and int(gauc._counts.size()) == 0
    gauc.update_state(*_columns(TABLE))
    assert float(gauc.result()) == pytest.approx(MACRO, abs=1e-6)
    again = GroupedAUC.from_config(gauc.get_config())
    assert (again.grouping_key, again.num_buckets, again.average, again.name) == (
        "uid",
        50,
        "macro",
        "grouped_auc_ctr",
    )
    assert again.input_columns == ("uid",)
    for kwargs, field in (
        ({"grouping_key": ""}, "grouping_key"),
        ({"grouping_key": "u", "num_buckets": 1}, "num_buckets"),
        ({"grouping_key": "u", "average": "mean"}, "average"),
    ):
        with pytest.raises(ValueError, match=field):
            GroupedAUC(**kwargs)


def test_task_reads_the_grouping_column_on_its_sample_space():
    tower = text_format.Parse(
        """tower_name: "cvr" label_name: "buy" task_space_indicator_label: "clk"
        metrics_over_task_space: true losses { binary_cross_entropy {} }
        metrics { grouped_auc { grouping_key: "user_id" thresholds: 1000 average: "weighted" } }
        metrics { auc {} }""",
        tower_pb2.TaskTower(),
    )
    task = build_task(tower)
    assert task.columns == ["buy", "clk", "user_id"]
    gauc, auc = task.make_metrics()
    assert gauc.name == "grouped_auc_cvr"
    labels, preds, users = _columns(TABLE)
    # Out-of-space rows (clk 0) would make user a's AUC 1.0 if they were counted.
    labels_in = {
        "buy": tf.constant(labels + [0]),
        "clk": tf.constant([1] * len(labels) + [0]),
        "user_id": tf.constant(users + ["a"]),
    }
    task.update_metrics([gauc, auc], labels_in, {"probs_cvr": tf.constant(preds + [0.0])})
    assert float(gauc.result()) == pytest.approx(WEIGHTED, abs=1e-6)
