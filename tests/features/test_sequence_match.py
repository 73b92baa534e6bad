"""sequence_match_feature: its values on hand-built cells (counts per window, the most
recent match, empty sequences, list-column padding, truncation), the exact-match channels
that DIN's exact_match reads, and its config errors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import SAMPLES

from easymtl.config import PipelineConfig, load_config
from easymtl.errors import EasymtlError
from easymtl.features import build_feature_inputs
from easymtl.features.embedding import id_match
from easymtl.features.sequence_match_feature.layer import SequenceMatchFeature
from easymtl.train import main as train_main

CONFIG = SAMPLES / "configs" / "mmoe_seq_match_taobao.config"


def _values(layer, query, sequence):
    return np.asarray(layer([tf.constant(query), tf.constant(sequence)]))


def test_counts_per_window_and_the_most_recent_match():
    f = SequenceMatchFeature([2, 5], sequence_length=10, sequence_delim="|")
    out = _values(f, ["a", "b", "c", "a"], ["x|a|y|a|a|a", "b", "x|y", ""])
    expected = [
        [np.log1p(1), np.log1p(3), 1 / 2],  # matches at 1, 3, 4 (5 is past the window)
        [np.log1p(1), np.log1p(1), 1.0],  # the first item
        [0, 0, 0],  # no match
        [0, 0, 0],  # an empty sequence
    ]
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert out.shape == (4, 3) and out.dtype == np.float32


def test_truncation_empty_query_and_empty_items():
    f = SequenceMatchFeature([10], sequence_length=2, sequence_delim="|")
    # Only the first 2 items are read; an empty query matches no (empty) item.
    out = _values(f, ["a", ""], ["x|y|a", "||"])
    np.testing.assert_array_equal(out, [[0, 0], [0, 0]])


def test_list_columns_drop_their_padding():
    f = SequenceMatchFeature([1, 3], sequence_length=5)
    ints = f([tf.constant([3, -1], tf.int64), tf.constant([[4, 3, 3], [-1, -1, -1]], tf.int64)])
    np.testing.assert_allclose(ints, [[0, np.log1p(2), 1 / 2], [0, 0, 0]], rtol=1e-6)
    strings = _values(f, ["b", ""], [["b", "", ""], ["", "", ""]])
    np.testing.assert_allclose(strings, [[np.log1p(1), np.log1p(1), 1], [0, 0, 0]], rtol=1e-6)


def test_layer_arguments_and_config_round_trip():
    with pytest.raises(ValueError, match="windows"):
        SequenceMatchFeature([], 5)
    with pytest.raises(ValueError, match="windows"):
        SequenceMatchFeature([0, 3], 5)
    with pytest.raises(ValueError, match="sequence_length"):
        SequenceMatchFeature([1], 0)
    f = SequenceMatchFeature([2, 5], 10, "|", name="m")
    g = SequenceMatchFeature.from_config(f.get_config())
    cells = ["a", "b"], ["b|a", "b|b|b"]
    np.testing.assert_array_equal(_values(f, *cells), _values(g, *cells))


def test_id_match_marks_items_holding_a_query_id():
    query = tf.ragged.constant([[3], [5], []], dtype=tf.int64)
    sequence = tf.ragged.constant([[[3], [4], [3, 9]], [[1]], [[2]]], dtype=tf.int64)
    np.testing.assert_array_equal(id_match(query, sequence, 3), [[1, 0, 1], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(id_match(query, sequence, 2), [[1, 0], [0, 0], [0, 0]])


def test_feature_group_hands_din_one_match_channel_per_shared_table():
    config = load_config(str(SAMPLES / "configs" / "mmoe_din_match_taobao.config"))
    features = build_feature_inputs(config.feature_configs, config.model_config.feature_groups)
    (encoder,) = features.encoders
    assert features.match_pairs("click_50_seq") == [
        ("adgroup_id", "click_50_seq__adgroup_id"),
        ("cate_id", "click_50_seq__cate_id"),
        ("brand", "click_50_seq__brand"),
    ]
    columns = {c: tf.constant(["0", "0"]) for c in features.used_inputs}
    columns.update(
        adgroup_id=tf.constant(["7", "8"]),
        cate_id=tf.constant(["c1", "c2"]),
        brand=tf.constant(["b1", "b2"]),
        click_50_seq__adgroup_id=tf.constant(["1|7|2", "8"]),
        click_50_seq__cate_id=tf.constant(["c1|c1|c3", "c9"]),
        click_50_seq__brand=tf.constant(["b0|b1|b1", "b2"]),
    )
    args = features.encoder_inputs(columns, encoder)
    np.testing.assert_array_equal(args["mask"], [[True] * 3, [True, False, False]])
    match = np.asarray(args["match"])
    assert match.shape == (2, 3, 3)
    # match[0].T: one row per channel (adgroup_id, cate_id, brand), one column per item.
    np.testing.assert_array_equal(match[0].T, [[0, 1, 0], [1, 1, 0], [0, 1, 1]])
    np.testing.assert_array_equal(match[1, 0], [1, 0, 1])
    # DIN's output: the sequence's 48 values, then the attention's share on each channel.
    out = np.asarray(features(columns)["all"])
    assert out.shape == (2, 18 * 16 + 48 + 3)


@pytest.mark.parametrize(
    "old, new, field, expected",
    [
        ('query: "cate_id"', 'query: "cate"', "query", "unknown feature 'cate'"),
        (
            'sequence: "click_50_seq__cate_id"',
            'sequence: "click_50_seq__shop"',
            "sequence",
            "unknown sequence feature 'click_50_seq__shop'",
        ),
        (
            'query: "cate_id"',
            'query: "tag_category_list"',
            "query",
            "holds several values per row",
        ),
        (
            'query: "cate_id"',
            'query: "click_50_seq__brand"',
            "query",
            "unknown feature 'click_50_seq__brand'",
        ),
        ("windows: [5, 50]", "", "windows", "at least one window is needed"),
        ("windows: [5, 50]", "windows: [0]", "windows", "every window needs at least one item"),
    ],
)
def test_bad_sequence_match_config_names_the_field(tmp_path, old, new, field, expected):
    text = CONFIG.read_text()
    cate = text.index('feature_name: "cate_match"')
    assert old in text[cate:]
    bad = tmp_path / "bad.config"
    bad.write_text(text[:cate] + text[cate:].replace(old, new, 1))
    with pytest.raises(EasymtlError) as e:
        load_config(str(bad))
    assert f"feature_configs[20].sequence_match_feature.{field}: " in str(e.value), e.value
    assert expected in str(e.value)


def test_bad_sequence_match_config_is_one_line_exit_2(tmp_path, capsys):
    text = CONFIG.read_text().replace("windows: [5, 50]", "windows: []", 1)
    bad = tmp_path / "bad.config"
    bad.write_text(text.replace("runs/mmoe_seq_match_taobao", str(tmp_path / "m")))
    assert train_main(["--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"error: {bad}:"), err
    assert "sequence_match_feature.windows: at least one window is needed" in err, err
    assert not (tmp_path / "m").exists()


def test_sample_config_validates():
    assert isinstance(load_config(str(CONFIG)), PipelineConfig)


def test_a_match_feature_in_a_sequence_group_names_the_field(tmp_path):
    text = (SAMPLES / "configs" / "mmoe_din_seq_match_taobao.config").read_text()
    old = 'group_name: "click_50_seq"\n            feature_names: "adgroup_id"'
    assert old in text
    bad = tmp_path / "bad.config"
    bad.write_text(text.replace(old, old + '\n            feature_names: "cate_match"', 1))
    with pytest.raises(EasymtlError) as e:
        load_config(str(bad))
    line = text[: text.index(old)].count("\n") + 3  # the line of the added feature_names
    assert str(e.value).startswith(
        f"{bad}:{line}: model_config.feature_groups[0].sequence_groups[0].feature_names[1]: "
        "'cate_match' is a sequence_match_feature"
    ), e.value
