"""The interaction layers of the rankers (FM, dot interaction, cross v1/v2, CIN,
MaskBlock/MaskNet, WuKong, DC2VR's intervention) and the blocks built of them: outputs
computed by hand or by an independent numpy formula, shapes, bad arguments, and
get_config round trips."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from easymtl.layers.blocks import FieldBlock, make_block
from easymtl.layers.cin import CIN
from easymtl.layers.cross import Cross, CrossV2
from easymtl.layers.dc2vr import Intervention
from easymtl.layers.dcn import DCN, DCNV2
from easymtl.layers.dot_interaction import DotInteraction
from easymtl.layers.fm import FM
from easymtl.layers.masknet import MaskBlock, MaskNet
from easymtl.layers.wukong import WuKongLayer


def roundtrip(layer):
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    return clone


def test_fm_is_the_sum_of_pairwise_products():
    x = np.array([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]], "float32")
    # dim 0: 1*3 + 1*5 + 3*5 = 23; dim 1: 2*4 + 2*6 + 4*6 = 44
    np.testing.assert_allclose(FM()(x), [[23.0, 44.0]])
    roundtrip(FM())


def test_dot_interaction_in_upper_triangle_order():
    x = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 2.0]]], "float32")
    # pairs (0,1), (0,2), (1,2)
    np.testing.assert_allclose(DotInteraction()(x), [[0.0, 1.0, 2.0]])
    with pytest.raises(ValueError, match="at least 2 fields"):
        DotInteraction()(np.ones((1, 1, 2), "float32"))


def test_cross_v1_by_hand():
    layer = Cross(2)
    layer.build((None, 2))
    layer.set_weights([np.ones((2, 1)), np.ones((2, 1)), np.zeros(2), np.zeros(2)])
    # layer 1: (x . 1) = 3 -> 3x + x = [4, 8]; layer 2: (x1 . 1) = 12 -> 12x + x1
    np.testing.assert_allclose(layer(np.array([[1.0, 2.0]], "float32")), [[16.0, 32.0]])
    with pytest.raises(ValueError, match="`cross_num` must be positive"):
        Cross(0)
    roundtrip(layer)


def test_cross_v2_by_hand():
    layer = CrossV2(1, low_rank=1)
    layer.build((None, 2))
    # U = [1, 1]^T, V = [[1, 2]], b = [0, 1]: x0 * (V U x + b) + x
    layer.set_weights([np.ones((2, 1)), np.array([[1.0, 2.0]]), np.array([0.0, 1.0])])
    x = np.array([[1.0, 2.0]], "float32")  # U x = 3 -> V U x + b = [3, 7]
    np.testing.assert_allclose(layer(x), [[1 * 3 + 1, 2 * 7 + 2]])
    with pytest.raises(ValueError, match="`low_rank` must be positive"):
        CrossV2(2, low_rank=0)
    roundtrip(layer)


def test_cross_v2_equals_keras_rs_feature_cross():
    keras_rs = pytest.importorskip("keras_rs", reason="keras-rs needs Python 3.11")
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    ours = CrossV2(2, low_rank=3)
    ours(x)
    theirs = [keras_rs.layers.FeatureCross(projection_dim=3) for _ in range(2)]
    y = x
    for i, cross in enumerate(theirs):
        cross(x, y)
        u, v = ours.down[i], ours.up[i]
        cross.down_proj_dense.set_weights(u.get_weights())
        cross.dense.set_weights(v.get_weights())
        y = cross(x, y)
    np.testing.assert_allclose(ours(x), y, rtol=1e-5, atol=1e-5)


def test_cin_by_hand_and_shapes():
    layer = CIN([1])
    layer.build((None, 2, 1))
    layer.set_weights([np.ones((4, 1)), np.zeros(1)])
    # fields a=2, b=3: every product of the two: 4 + 6 + 6 + 9 = 25
    np.testing.assert_allclose(layer(np.array([[[2.0], [3.0]]], "float32")), [[25.0]])
    assert CIN([3, 2])(np.ones((5, 4, 6), "float32")).shape == (5, 5)
    with pytest.raises(ValueError, match="`cin_layer_size`"):
        CIN([])
    roundtrip(layer)


def test_mask_block_matches_its_formula():
    rng = np.random.default_rng(1)
    x, m = rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(3, 5)).astype("float32")
    block = MaskBlock(2, reduction_ratio=0.5)
    out = block((x, m)).numpy()
    w1, b1, w2, b2, w3, b3, gamma, beta = [w.numpy() for w in block.weights]
    assert w1.shape == (5, 2)  # aggregation_dim = int(4 x 0.5): the input's width
    mask = np.maximum(m @ w1 + b1, 0) @ w2 + b2
    h = (x * mask) @ w3 + b3
    h = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-5) * gamma + beta
    np.testing.assert_allclose(out, np.maximum(h, 0), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="`reduction_ratio` or `aggregation_dim`"):
        MaskBlock(2, reduction_ratio=0, aggregation_dim=0)
    roundtrip(block)


@pytest.mark.parametrize("parallel, width", [(True, 8), (False, 4)])
def test_mask_net_parallel_and_serial(parallel, width):
    net = MaskNet(2, {"hidden_dim": 4, "reduction_ratio": 0, "aggregation_dim": 3}, None, parallel)
    assert net(np.ones((2, 6), "float32")).shape == (2, width)
    assert net.compute_output_shape((None, 6)) == (None, width)
    roundtrip(net)


def test_wukong_layer_matches_its_formula():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 4)).astype("float32")
    layer = WuKongLayer(1, 1, {"hidden_units": [5]}, compressed_feature_num=2)
    out = layer(x).numpy()
    w = {v.path.split("/", 1)[1]: v.numpy() for v in layer.weights}

    def ln(h, g, b):
        return (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-5) * g + b

    lcb = np.einsum("bfd,fo->bod", x, w["lcb"])
    fm = np.matmul(x, np.einsum("bfd,fc->bdc", x, w["fmb"])).reshape(2, 6)
    fm = ln(fm, w["fmb_ln/gamma"], w["fmb_ln/beta"])
    fm = np.maximum(fm @ w["fmb_mlp/dense_0/kernel"] + w["fmb_mlp/dense_0/bias"], 0)
    fmb = (fm @ w["fmb_out/kernel"] + w["fmb_out/bias"]).reshape(2, 1, 4)
    residual = np.einsum("bfd,fo->bod", x, w["residual"])  # 3 fields -> 2
    expected = ln(np.concatenate([fmb, lcb], 1) + residual, w["ln/gamma"], w["ln/beta"])
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    assert WuKongLayer(2, 1, {"hidden_units": [4]})(x).shape == (2, 3, 4)  # no projection
    with pytest.raises(ValueError, match="`lcb_feature_num` must be positive"):
        WuKongLayer(0, 1, {"hidden_units": [4]})
    roundtrip(layer)


def test_intervention_projections_are_orthonormal_and_it_subtracts_the_source():
    layer = Intervention(2)
    base = np.random.default_rng(3).normal(size=(4, 5)).astype("float32")
    out = layer((base, base[:, :3]), training=False).numpy()
    from easymtl.layers.dc2vr import orthonormal

    rb = orthonormal(layer.base_rotation).numpy()
    rs = orthonormal(layer.source_rotation).numpy()
    np.testing.assert_allclose(rb.T @ rb, np.eye(2), atol=1e-5)
    np.testing.assert_allclose(out, base + (base @ rb - base[:, :3] @ rs) @ rb.T, atol=1e-5)
    with pytest.raises(ValueError, match="must be below the source's width"):
        Intervention(3)((base, base[:, :3]))
    roundtrip(layer)


def test_dcn_blocks_shapes_and_config():
    x = np.ones((2, 6), "float32")
    dcn = DCN(2, {"hidden_units": [4]}, {"hidden_units": [3]})
    v2 = DCNV2(
        2, 2, {"hidden_units": [3]}, backbone={"hidden_units": [5]}, deep={"hidden_units": [2]}
    )
    for layer in (dcn, v2):
        assert layer(x).shape == (2, 3)
        roundtrip(layer)


@pytest.mark.parametrize(
    "spec, width",
    [
        ({"hidden_units": [4]}, 4),
        ({"kind": "dcn_v2", "cross_num": 1, "low_rank": 2, "final": {"hidden_units": [3]}}, 3),
        ({"kind": "mask_net", "n_mask_blocks": 1, "mask_block": {"hidden_dim": 5}}, 5),
        ({"kind": "fm", "field_dim": 4}, 4),
        ({"kind": "cin", "field_dim": 4, "cin_layer_size": [2, 3]}, 5),
        ({"kind": "dot_interaction", "field_dim": 4}, 3),
        (
            {
                "kind": "wukong",
                "field_dim": 4,
                "wukong_layers": [
                    {
                        "lcb_feature_num": 1,
                        "fmb_feature_num": 1,
                        "feature_num_mlp": {"hidden_units": [4]},
                    }
                ],
            },
            8,
        ),
    ],  # fmt: skip
)
def test_blocks_map_a_flat_input_to_their_width(spec, width):
    block = make_block(spec, name="expert")
    assert block(np.ones((2, 12), "float32")).shape == (2, width)
    assert block.compute_output_shape((None, 12)) == (None, width)
    roundtrip(block)


def test_field_block_refuses_an_input_that_is_not_whole_fields():
    with pytest.raises(ValueError, match="not a multiple of `field_dim` 5"):
        FieldBlock(5, "fm")(np.ones((2, 12), "float32"))
    with pytest.raises(ValueError, match="`kind` must be one of"):
        make_block({"kind": "attention"}, name="x")


def test_fm_block_equals_fm_of_the_reshaped_fields():
    x = np.random.default_rng(4).normal(size=(3, 8)).astype("float32")
    np.testing.assert_allclose(
        FieldBlock(2, "fm")(x), FM()(x.reshape(3, 4, 2)), rtol=1e-6, atol=1e-6
    )
    assert isinstance(keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(FieldBlock(2, "fm"))), FieldBlock)  # fmt: skip
