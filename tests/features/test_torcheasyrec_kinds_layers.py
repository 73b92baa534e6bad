"""The layers of TorchEasyRec's feature kinds on a row or two, against hand-computed
values: the expression language, overlap_feature, kv_dot_product, bool_mask_feature,
custom_feature's operators, the mlp / autodis dense embeddings, id value_dim; and a
lookup_feature with mlp wired into its group."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from easymtl.features import build_feature_inputs
from easymtl.features.bool_mask_feature.layer import BoolMaskFeature
from easymtl.features.custom_feature.layer import EditDistance, RegexReplace
from easymtl.features.dense_embedding import AutoDisEmbedding, MLPEmbedding
from easymtl.features.expr_feature.layer import ExprFeature
from easymtl.features.expression import ExpressionError, parse
from easymtl.features.expression_ops import evaluate
from easymtl.features.id_feature.layer import IdFeature
from easymtl.features.kv_dot_product.layer import KvDotProduct
from easymtl.features.overlap_feature.layer import OverlapFeature
from easymtl.features.raw_feature.layer import RawFeature
from easymtl.protos import model_pb2, pipeline_pb2


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("a == b ? 1 : 0", [1, 0]),
        ("a + b * 2 ^ 2", [5, 13]),
        ("-2 ^ 2 + a", [-3, 1]),
        ("mod(-7, 3) + roundp(3.14159, 2)", [2.14, 2.14]),
        ("max(a, b, 3)", [3, 5]),
        ("a > 1 && b < 3 || !a", [0, 1]),
        ("5 | 2", [7, 7]),
        ("round(-2.5) + trunc(-1.5)", [-4, -4]),
        ("dot(u, w) + len(u)", [7, 0]),
        ("std_dev(u) ^ 2", [2 / 3, 0]),
        ("haversine(0, 0, 0, 1) / _pi", [6371 / 180, 6371 / 180]),
    ],
)
def test_expressions(expression, expected):
    scalars = {"a": tf.constant([1.0, 5.0]), "b": tf.constant([1.0, 2.0])}
    vectors = {"u": tf.ragged.constant([[1.0, 2.0, 3.0], []]),
               "w": tf.ragged.constant([[1.0, 0.0, 1.0], [2.0]])}  # fmt: skip
    got = evaluate(parse(expression), scalars, vectors).numpy()
    np.testing.assert_allclose(np.broadcast_to(got, (2,)), expected, rtol=1e-5)


@pytest.mark.parametrize(
    "text, error",
    [("sin(", "expected more"), ("foo(x)", "unknown function 'foo'"), ("sin(1, 2)", "takes 1"),
     ("len(x + 1)", "takes variables"), ("rnd()", "rnd() draws anew"), ("a $ b", "cannot read")],
)  # fmt: skip
def test_bad_expressions(text, error):
    with pytest.raises(ExpressionError, match=error.replace("(", r"\(").replace(")", r"\)")):
        parse(text)


def test_expr_feature_missing_values_and_lists():
    f = ExprFeature("len(t) + x", ["t", "x"], separator="|", default_value=-1.0)
    out = f([tf.constant(["1|2|3", "", "4"]), tf.constant(["1", "2", ""])])
    assert out.numpy().ravel().tolist() == [4.0, 2.0, -1.0]  # no x: default_value
    filled = ExprFeature("x * 2", ["x"], fill_missing=0.5)([tf.constant(["", "3"])])
    assert filled.numpy().ravel().tolist() == [1.0, 6.0]
    [(_, bad, what)] = f.cell_checks()
    assert bad(tf.constant(["1", "1|2"])).numpy().tolist() == [False, True]


def test_normalizer_expression():
    out = RawFeature(normalizer="method=expression,expr=log(x+3)")(tf.constant(["0", "1"]))
    np.testing.assert_allclose(out.numpy().ravel(), [math.log(3), math.log(4)], rtol=1e-6)


def test_overlap_methods():
    q, t = tf.constant(["a|b", "c", "", "b|c", "x"]), tf.constant(["b|x", "", "a", "a|b|c|d", "x"])
    expected = {
        "query_common_ratio": [0.5, 0, 0, 1, 1],
        "title_common_ratio": [0.5, 0, 0, 0.5, 1],
        "is_contain": [0, 0, 0, 1, 1],
        "is_equal": [0, 0, 0, 0, 1],
        "index_of": [-1, -1, -1, 1, 0],
    }
    for method, values in expected.items():
        got = OverlapFeature(method, separator="|")([q, t]).numpy().ravel()
        assert got.tolist() == values, method
    # A number column against a list of numbers.
    ints = OverlapFeature("query_common_ratio", "|")([tf.constant([5, 7], tf.int64),
                                                       tf.constant(["5|6", "1"])])  # fmt: skip
    assert ints.numpy().ravel().tolist() == [1.0, 0.0]


def test_kv_dot_product_bool_mask_and_custom_operators():
    kv = KvDotProduct(separator="|", default_value=-1.0)(
        [tf.constant(["a:0.5|b:0.5", "a|b|c", "a|b|c", ""]),
         tf.constant(["d:0.5|b:0.5", "a|b|d", "a:0.5|b:0.5", "x"])]
    )  # fmt: skip
    assert kv.numpy().ravel().tolist() == [0.25, 2.0, 1.0, -1.0]
    mask = BoolMaskFeature(separator=",", num_buckets=1000)
    kept = mask([tf.constant(["123,456,90,80", ""]), tf.constant(["true,false,TRUE,0", ""])])
    assert kept.to_list() == [[123, 90], []]
    distance = EditDistance(encoding="utf-8")([tf.constant(["kitten", "日本語"]),
                                               tf.constant(["sitting", "日本"])])  # fmt: skip
    assert distance.numpy().ravel().tolist() == [3.0, 1.0]
    as_bytes = EditDistance()([tf.constant(["日本語"]), tf.constant(["日本"])])
    assert as_bytes.numpy().ravel().tolist() == [3.0]  # 3 UTF-8 bytes
    # Traced over any batch, its shape is known (an autodis after it builds on it, as in
    # TorchEasyRec's multi_tower_din_fg_mock config).
    spec = tf.TensorSpec([None], tf.string)
    traced = tf.function(EditDistance(), input_signature=[[spec, spec]])
    assert traced.get_concrete_function().structured_outputs.shape.as_list() == [None, 1]
    # vocab_list rows as TorchEasyRec's: "a#b" → 2, unknown → 1.
    assert RegexReplace("[0-9]+", "#", vocab_list=["a#b"])(
        tf.constant(["a12b", "xy"])
    ).to_list() == [[2], [1]]


def test_dense_embeddings_by_hand():
    mlp = MLPEmbedding(3, value_dim=2)
    mlp.build()
    mlp.kernel.assign(np.arange(6, dtype="float32").reshape(2, 3))
    np.testing.assert_allclose(mlp(np.array([[1.0, 2.0]], "float32")), [[6, 9, 12]])
    autodis = AutoDisEmbedding(2, num_channels=2, temperature=1.0, keep_prob=0.5)
    autodis.build()
    autodis.meta.assign([[1.0, 0.0], [0.0, 1.0]])
    autodis.proj_w.assign([1.0, -1.0])
    autodis.proj_m.assign([[0.0, 0.0], [0.0, 0.0]])
    # x = 2: h = leaky_relu([2, -2]) = [2, -0.02]; h' = 0.5 h; a = softmax([1, -0.01]).
    a = np.exp([1.0, -0.01]) / np.exp([1.0, -0.01]).sum()
    np.testing.assert_allclose(autodis(np.array([[2.0]], "float32")), [a], rtol=1e-5)


def test_id_value_dim_one_keeps_the_first_id():
    ids = IdFeature(num_buckets=10, separator="|", first_only=True)(tf.constant(["3|4", ""]))
    assert ids.to_list() == [[3], []]


def test_lookup_feature_mlp_embeds_the_value_in_its_group():
    config = pipeline_pb2.PipelineConfig()
    text_format.Parse(
        'feature_configs { lookup_feature { feature_name: "cnt" map: "kv" key: "k" '
        'separator: "|" embedding_dim: 3 mlp {} } }',
        config,
    )
    model = model_pb2.ModelConfig()
    text_format.Parse('feature_groups { group_name: "g" feature_names: "cnt" }', model)
    layer = build_feature_inputs(config.feature_configs, model.feature_groups)
    out = layer({"kv": tf.constant(["a:2|b:1", ""]), "k": tf.constant(["a", "a"])})["g"]
    kernel = layer.dense_embeddings["cnt"].kernel.numpy()
    np.testing.assert_allclose(out.numpy(), [2 * kernel[0], 0 * kernel[0]], rtol=1e-6)
    clone = type(layer).from_config(layer.get_config())
    assert list(clone.dense_embeddings) == ["cnt"]


def test_dense_values_embedding_dim_is_not_used_as_in_torcheasyrec(caplog):
    config = pipeline_pb2.PipelineConfig()
    text_format.Parse(
        'feature_configs { raw_feature { feature_name: "int_0" embedding_dim: 16 '
        'normalizer: "method=expression,expr=log(x+3)" } }',
        config,
    )
    model = model_pb2.ModelConfig()
    text_format.Parse('feature_groups { group_name: "g" feature_names: "int_0" }', model)
    with caplog.at_level("INFO", logger="easymtl"):
        layer = build_feature_inputs(config.feature_configs, model.feature_groups)
    assert "feature 'int_0': embedding_dim is not used" in caplog.text
    out = layer({"int_0": tf.constant(["1"])})["g"]
    np.testing.assert_allclose(out.numpy(), [[math.log(4)]], rtol=1e-6)
