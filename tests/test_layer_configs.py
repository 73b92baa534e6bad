"""Every Keras layer of easymtl/layers and easymtl/features round-trips through
get_config / from_config (and Keras serialization by its registered name) and, given
the same weights, computes the same outputs."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import easymtl.features
import easymtl.layers
from easymtl.features.bool_mask_feature.layer import BoolMaskFeature
from easymtl.features.combo_feature.layer import ComboFeature
from easymtl.features.custom_feature.layer import EditDistance, RegexReplace
from easymtl.features.dense_embedding import AutoDisEmbedding, MLPEmbedding
from easymtl.features.embedding import EmbeddingTable, FeatureInputs
from easymtl.features.expr_feature.layer import ExprFeature
from easymtl.features.id_feature.layer import IdFeature
from easymtl.features.kv_dot_product.layer import KvDotProduct
from easymtl.features.lookup_feature.layer import LookupFeature
from easymtl.features.map_values import MapValues
from easymtl.features.match_feature.layer import MatchFeature
from easymtl.features.overlap_feature.layer import OverlapFeature
from easymtl.features.raw_feature.layer import RawFeature
from easymtl.features.sequence_id_feature.layer import SequenceIdFeature
from easymtl.features.sequence_match_feature.layer import SequenceMatchFeature
from easymtl.features.sequence_raw_feature.layer import SequenceRawFeature
from easymtl.features.zch import ZchEmbeddingTable
from easymtl.layers.aitm import AITM, AdaptiveInformationTransfer
from easymtl.layers.batch_norm import BatchNormalization
from easymtl.layers.blocks import FieldBlock
from easymtl.layers.cin import CIN
from easymtl.layers.cross import Cross, CrossV2
from easymtl.layers.dbmtl import DBMTL
from easymtl.layers.dc2vr import DC2VR, Intervention
from easymtl.layers.dcn import DCN, DCNV2
from easymtl.layers.deepfm import DeepFM
from easymtl.layers.din import DINEncoder
from easymtl.layers.dlrm import DLRM
from easymtl.layers.dot_interaction import DotInteraction
from easymtl.layers.extraction import PLE, ExtractionNetwork
from easymtl.layers.fm import FM
from easymtl.layers.fusion import FusedScore
from easymtl.layers.group_towers import GroupTowers
from easymtl.layers.masknet import MaskBlock, MaskNet
from easymtl.layers.mlp import MLP, Dice
from easymtl.layers.mmoe import MMoE, _Gate
from easymtl.layers.multi_tower import MultiTower
from easymtl.layers.multi_window_din import MultiWindowDINEncoder
from easymtl.layers.pepnet import GateNU, PEPNet
from easymtl.layers.pooling_encoder import PoolingEncoder
from easymtl.layers.rank_head import BlockRanker
from easymtl.layers.rocket_launching import RocketLaunching
from easymtl.layers.simple_attention import SimpleAttention
from easymtl.layers.tower import TaskTower
from easymtl.layers.variational_dropout import VariationalDropout
from easymtl.layers.wide_and_deep import WideAndDeep
from easymtl.layers.wukong import WuKong, WuKongLayer
from easymtl.layers.xdeepfm import XDeepFM

X = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]], "float32")
MLP4 = {"hidden_units": [4]}
RAW = {
    "tag_list": tf.constant(["a|b", ""]),
    "item_id": tf.constant(["d", "zz"]),
    "price": tf.constant([4.0, -2.0]),
}
# A query [batch, d] and a sequence [batch, length, d] with its mask, for the encoders.
QUERY = np.array([[1.0, 0.0], [0.5, -1.0]], "float32")
SEQUENCE = np.arange(12, dtype="float32").reshape(2, 3, 2) / 10.0
MASK = np.array([[True, True, False], [True, False, False]])
SEQ_ARGS = (QUERY, SEQUENCE, MASK)
# Three fields of two numbers, and a group of three 2-wide embeddings, for the rankers.
FIELDS = np.arange(12, dtype="float32").reshape(2, 3, 2) / 5.0
GROUP6 = FIELDS.reshape(2, 6)


def feature_inputs() -> FeatureInputs:
    return FeatureInputs(
        features={
            "tags": IdFeature(vocab_list=["a", "b", "c", "d"], separator="|"),
            "item": IdFeature(hash_bucket_size=7),
            "price": RawFeature(normalizer="method=zscore,mean=0,standard_deviation=2"),
        },
        input_names={"tags": "tag_list", "item": "item_id", "price": "price"},
        tables={"shared": EmbeddingTable(7, 2, name="shared")},
        embeddings={"tags": ("shared", "mean"), "item": ("shared", "sum")},
        groups={"user": ["price", "tags"], "item": ["item"]},
    )


# Layer class -> (a small instance, the positional arguments of a call).
EXAMPLES = {
    MLP: lambda: (MLP([4, 2], dropout_ratio=0.1, use_ln=True), (X,)),
    Dice: lambda: (Dice(), (X,)),
    BatchNormalization: lambda: (BatchNormalization(momentum=0.9), (X,)),
    TaskTower: lambda: (TaskTower(MLP4, num_class=3), (X,)),
    MMoE: lambda: (MMoE(2, 2, MLP4, gate_mlp={"hidden_units": [3]}, gate_temperature=0.5), (X,)),
    _Gate: lambda: (_Gate(3, MLP4, temperature=2.0), (X,)),
    ExtractionNetwork: lambda: (ExtractionNetwork(2, 2, 1, MLP4, is_final=False), ([X, X, X],)),
    PLE: lambda: (
        PLE(
            2,
            [
                {"expert_num_per_task": 1, "share_num": 1, "task_expert_mlp": MLP4},
                {
                    "expert_num_per_task": 1,
                    "share_num": 2,
                    "task_expert_mlp": {"hidden_units": [3]},
                },
            ],
            level_names=["l1", "l2"],
        ),
        (X,),
    ),
    DBMTL: lambda: (
        DBMTL(
            2,
            bottom_mlp=MLP4,
            mmoe={"num_expert": 2, "expert_mlp": {"hidden_units": [3]}},
            task_mlps=[{"hidden_units": [3]}, None],
            relations=[[], [0]],
            relation_mlps=[None, {"hidden_units": [2]}],
        ),
        (X,),
    ),
    AdaptiveInformationTransfer: lambda: (AdaptiveInformationTransfer(3), ([X, 2 * X],)),
    AITM: lambda: (
        AITM(
            [MLP4, MLP4],
            info_mlp={"hidden_units": [4]},
            bottom_mlp={"hidden_units": [6], "final_activation": "linear"},
            output_mlps=[{"hidden_units": [3]}, {"hidden_units": [2]}],
            stop_gradient=True,
            attention="own_query",
        ),
        (X,),
    ),
    GroupTowers: lambda: (GroupTowers([("a", MLP4), ("b", {"hidden_units": [3]})]), ([X, X],)),
    GateNU: lambda: (GateNU(4, 3, gamma=1.5), (X,)),
    PEPNet: lambda: (
        PEPNet(2, [4, 3], "nn.Tanh", [0.1], use_epnet=True, use_ppnet=True),
        (X, 2 * X, X[:, :2]),
    ),
    VariationalDropout: lambda: (VariationalDropout(["a", "b"], 0.1), ([X, 2 * X],)),
    FusedScore: lambda: (
        FusedScore(
            {"probs_ctr": 1.0, "y_watch": 2.0},
            clip_outputs=["y_watch"],
            inputs=[{"input_name": "n", "transform": "log1p"}],
        ),
        (
            {
                "probs_ctr": np.array([0.5, 0.2], "float32"),
                "y_watch": np.array([3.0, -1], "float32"),
            },
            {"n": np.array([1.0, 4.0], "float32")},
        ),
    ),
    EmbeddingTable: lambda: (
        EmbeddingTable(5, 3),
        (tf.ragged.constant([[1, 2], [4]], dtype=tf.int64),),
    ),
    ZchEmbeddingTable: lambda: (
        ZchEmbeddingTable(5, 3, eviction_interval=2, policy="distance_lfu", filter_freq=2),
        (tf.ragged.constant([[11, 12], [11]], dtype=tf.int64),),
    ),
    IdFeature: lambda: (
        IdFeature(num_buckets=4, separator="|", default_value="0"),
        (RAW["tag_list"],),
    ),
    RawFeature: lambda: (RawFeature(boundaries=[0.0, 3.0]), (RAW["price"],)),
    FeatureInputs: lambda: (feature_inputs(), (RAW,)),
    LookupFeature: lambda: (
        LookupFeature(separator="|", vocab_dict={"x": 2, "y": 3}, default_value="x"),
        ([tf.constant(["a:x|b:y", "a:z"]), tf.constant(["b|a", "c"])],),
    ),
    MatchFeature: lambda: (
        MatchFeature(boundaries=[1.0], skey_all=True),
        ([tf.constant(["a^x:1,y:2|b^x:4", ""]), tf.constant(["a", "b"])],),
    ),
    MapValues: lambda: (
        MapValues(combiner="mean", normalizer="method=log1p"),
        (tf.ragged.constant([["1", "3"], []]),),
    ),
    ComboFeature: lambda: (
        ComboFeature(hash_bucket_size=11, separator="|"),
        ([RAW["tag_list"], RAW["item_id"]],),
    ),
    SequenceIdFeature: lambda: (
        SequenceIdFeature(sequence_length=2, sequence_delim="|", hash_bucket_size=5),
        (tf.constant(["a|b|c", ""]),),
    ),
    SequenceRawFeature: lambda: (
        SequenceRawFeature(sequence_length=2, sequence_delim="|", boundaries=[1.0]),
        (tf.constant(["0.5|2|3", "4"]),),
    ),
    OverlapFeature: lambda: (
        OverlapFeature("title_common_ratio", "|", boundaries=[0.5]),
        ([tf.constant(["a|b", "c"]), tf.constant(["b", "c|d"])],),
    ),
    ExprFeature: lambda: (
        ExprFeature("a > 1 ? log(a) : len(t)", ["a", "t"], "|", fill_missing=2.0),
        ([tf.constant(["3", ""]), tf.constant(["1|2", "5"])],),
    ),
    KvDotProduct: lambda: (
        KvDotProduct("|", normalizer="method=expression,expr=x*2"),
        ([tf.constant(["a:1|b:2", ""]), tf.constant(["b:3", "a"])],),
    ),
    BoolMaskFeature: lambda: (
        BoolMaskFeature(",", vocab_list=["x", "y"], default_value="x"),
        ([tf.constant(["x,y", "y"]), tf.constant(["true,false", "0"])],),
    ),
    EditDistance: lambda: (
        EditDistance("utf-8", boundaries=[1.0, 2.0]),
        ([tf.constant(["abc", ""]), tf.constant(["abd", "xy"])],),
    ),
    RegexReplace: lambda: (RegexReplace("[0-9]", "", hash_bucket_size=5), (tf.constant(["a1"]),)),
    MLPEmbedding: lambda: (MLPEmbedding(3, value_dim=2), (X[:, :2],)),
    AutoDisEmbedding: lambda: (AutoDisEmbedding(3, 4, temperature=0.5), (X[:, :1],)),
    SequenceMatchFeature: lambda: (
        SequenceMatchFeature([1, 3], sequence_length=4, sequence_delim="|"),
        ([tf.constant(["a", "b"]), tf.constant(["b|a|a", ""])],),
    ),
    DINEncoder: lambda: (
        DINEncoder({"hidden_units": [4, 2]}, exact_match=True, recency=True),
        (*SEQ_ARGS, np.array([[[1, 0], [0, 0], [1, 1]], [[0, 1], [1, 0], [0, 0]]], "float32")),
    ),
    MultiWindowDINEncoder: lambda: (
        MultiWindowDINEncoder({"hidden_units": [3]}, windows_len=[1, 2]),
        SEQ_ARGS,
    ),
    PoolingEncoder: lambda: (PoolingEncoder("sum"), SEQ_ARGS),
    SimpleAttention: lambda: (SimpleAttention(), SEQ_ARGS),
    # The rankers' interaction layers and blocks (tests/layers/test_interaction.py).
    FM: lambda: (FM(), (FIELDS,)),
    DotInteraction: lambda: (DotInteraction(), (FIELDS,)),
    CIN: lambda: (CIN([3, 2]), (FIELDS,)),
    Cross: lambda: (Cross(2), (X,)),
    CrossV2: lambda: (CrossV2(2, low_rank=2), (X,)),
    MaskBlock: lambda: (MaskBlock(4, reduction_ratio=0.5), ((X, X),)),
    MaskNet: lambda: (MaskNet(2, {"hidden_dim": 4}, MLP4, use_parallel=False), (X,)),
    WuKongLayer: lambda: (WuKongLayer(1, 2, MLP4, compressed_feature_num=2), (FIELDS,)),
    DCN: lambda: (DCN(2, MLP4, {"hidden_units": [3]}), (X,)),
    DCNV2: lambda: (DCNV2(2, 2, {"hidden_units": [3]}, MLP4, MLP4), (X,)),
    FieldBlock: lambda: (FieldBlock(2, "cin", cin_layer_size=[3]), (np.ones((2, 6), "float32"),)),
    Intervention: lambda: (Intervention(1, 0.0), ((X, X[:, :2]),)),
    DC2VR: lambda: (
        DC2VR(2, MLP4, task_mlps=[MLP4, None], interventions=[None, [[0], 2, 0.0]]),
        (X,),
    ),
    BlockRanker: lambda: (
        BlockRanker("g", {"kind": "dcn_v1", "cross_num": 1, "deep": MLP4, "final": MLP4}),
        ({"g": X},),
    ),
    WideAndDeep: lambda: (WideAndDeep(MLP4, 2, MLP4), ({"wide": X, "deep": X},)),
    DeepFM: lambda: (DeepFM(MLP4, field_dim=2, final=MLP4), ({"wide": X, "deep": GROUP6},)),
    XDeepFM: lambda: (XDeepFM([2], MLP4, MLP4, field_dim=2), ({"wide": GROUP6, "deep": X},)),
    MultiTower: lambda: (MultiTower([["a", MLP4], ["b", None]], MLP4), ({"a": X, "b": X},)),
    DLRM: lambda: (
        DLRM("s", 2, MLP4, dense_group="d", dense_mlp={"hidden_units": [2]}),
        ({"s": GROUP6, "d": X},),
    ),
    WuKong: lambda: (
        WuKong(
            "s", 2, [{"lcb_feature_num": 2, "fmb_feature_num": 1, "feature_num_mlp": MLP4}], MLP4
        ),
        ({"s": GROUP6},),
    ),
    RocketLaunching: lambda: (
        RocketLaunching(
            "g",
            {"hidden_units": [4, 2]},
            {"hidden_units": [2]},
            share_mlp=MLP4,
            feature_based_distillation=True,
        ),
        ({"g": X},),
    ),
}


def layer_classes() -> list[type]:
    """Every keras Layer class defined in a module of easymtl.layers or easymtl.features
    (the feature kinds' packages included), less the models kept there (ESMM's): a model
    is built from a config, and tests/test_fast_lane.py trains, exports and serves each."""
    found = set()
    for package in (easymtl.layers, easymtl.features):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for _, obj in inspect.getmembers(module, inspect.isclass):
                if (
                    issubclass(obj, keras.layers.Layer)
                    and not issubclass(obj, keras.Model)
                    and obj.__module__ == module.__name__
                ):
                    found.add(obj)
    return sorted(found, key=lambda c: c.__name__)


def test_every_layer_has_an_example():
    missing = [c.__name__ for c in layer_classes() if c not in EXAMPLES]
    assert not missing, f"add a small example of each to EXAMPLES: {missing}"


@pytest.mark.parametrize("cls", layer_classes(), ids=lambda c: c.__name__)
def test_layer_config_round_trip_gives_same_outputs(cls):
    layer, args = EXAMPLES[cls]()
    config = layer.get_config()
    clone = cls.from_config(config)
    assert type(clone) is cls and clone.get_config() == config
    # By its registered name, as a SavedModel's or a saved model's config holds it.
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is cls and revived.get_config() == config

    # Ragged outputs (IdFeature's ids) compare as their values and row splits.
    expected = tf.nest.flatten(layer(*args), expand_composites=True)
    clone(*args)
    assert len(clone.weights) == len(layer.weights)
    clone.set_weights(layer.get_weights())
    for got, want in zip(
        tf.nest.flatten(clone(*args), expand_composites=True), expected, strict=True
    ):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6)
