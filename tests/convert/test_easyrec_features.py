"""Every EasyRec feature kind converted with EasyRec's meaning (easymtl/convert/easyrec/
features.py), and what cannot be converted refused on one line naming the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from convert.easyrec_configs import easyrec_text
from google.protobuf import text_format

from easymtl.protos import feature_pb2

ROOT = Path(__file__).resolve().parents[2]


def _feature(easyrec, feature: str, name: str, validate=True):
    feature_text = feature
    features = (
        'features { input_names: "user_id" feature_type: IdFeature embedding_dim: 4 '
        "hash_bucket_size: 10 }\n" + feature
    )
    groups = f'feature_groups {{ group_name: "all" feature_names: ["user_id", "{name}"] }}'
    conversion = easyrec(features=features, groups=groups, validate=validate)
    found = [
        f
        for f in conversion.config.feature_configs
        if getattr(f, f.WhichOneof("feature")).feature_name == name
    ]
    assert len(found) == 1
    feature = found[0]
    msg = getattr(feature, feature.WhichOneof("feature"))
    if hasattr(msg, "init_fn") and msg.HasField("init_fn") and "initializer" not in feature_text:
        dim = msg.embedding_dim
        std = f"{dim**-0.5:.6g}"
        # EasyRec's tables start from TensorFlow's embedding_column default.
        assert msg.init_fn.startswith(f"nn.init.trunc_normal_,mean=0,std={std},"), msg.init_fn
        msg.ClearField("init_fn")  # the tests below compare the rest
    return feature, conversion


def _expect(feature, text: str) -> None:
    expected = feature_pb2.FeatureConfig()
    text_format.Parse(text, expected)
    assert feature == expected, f"got {feature}"


def test_id_feature_hash_is_one_value_per_row(easyrec):
    feature, conversion = _feature(
        easyrec,
        'features { feature_name: "cate" input_names: "cate_id" feature_type: IdFeature '
        'embedding_dim: 8 hash_bucket_size: 1000 separator: "," combiner: "mean" '
        'embedding_name: "cate_emb" }',
        "cate",
    )
    # EasyRec does not split an IdFeature: its separator is unused.
    _expect(
        feature,
        'id_feature { feature_name: "cate" expression: "cate_id" embedding_dim: 8 '
        'hash_bucket_size: 1000 pooling: "mean" embedding_name: "cate_emb" }',
    )
    note = next(n for n in conversion.notes if n.source == "feature_config.features[1]")
    assert "separator dropped" in note.text and "IdFeature 'cate' -> id_feature" in note.text


def test_id_feature_vocab_list_and_file_map_unknown_values_to_id_0(easyrec):
    feature, _ = _feature(
        easyrec,
        'features { input_names: "cate_id" feature_type: IdFeature embedding_dim: 4 '
        'vocab_list: ["a", "b"] }',
        "cate_id",
    )
    _expect(
        feature,
        'id_feature { feature_name: "cate_id" embedding_dim: 4 vocab_list: ["a", "b"] '
        'default_bucketize_value: 0 pooling: "sum" }',
    )
    feature, _ = _feature(
        easyrec,
        'features { input_names: "cate_id" feature_type: IdFeature embedding_dim: 4 '
        'vocab_file: "vocab.txt" }',
        "cate_id",
        validate=False,  # the vocabulary file is read when the model is built
    )
    assert feature.id_feature.vocab_file == "vocab.txt"
    assert feature.id_feature.default_bucketize_value == 0


def test_id_feature_num_buckets_notes_its_difference(easyrec):
    feature, conversion = _feature(
        easyrec,
        'features { input_names: "price" feature_type: IdFeature embedding_dim: 4 '
        "num_buckets: 50 }",
        "price",
    )
    assert feature.id_feature.num_buckets == 50
    note = next(n for n in conversion.notes if n.source == "feature_config.features[1]")
    assert note.differs and "id 0" in note.text


def test_tag_feature_splits_by_its_separator_default_bar(easyrec):
    feature, _ = _feature(
        easyrec,
        'features { input_names: "tags" feature_type: TagFeature embedding_dim: 4 '
        "hash_bucket_size: 100 }",
        "tags",
    )
    _expect(
        feature,
        'id_feature { feature_name: "tags" embedding_dim: 4 hash_bucket_size: 100 '
        'pooling: "sum" separator: "|" }',
    )


def test_tag_feature_kv_separator_is_weighted(easyrec, refused):
    feature, _ = _feature(
        easyrec,
        'features { input_names: "tags" feature_type: TagFeature embedding_dim: 4 '
        'hash_bucket_size: 100 separator: "," kv_separator: ":" }',
        "tags",
    )
    assert feature.id_feature.weighted and feature.id_feature.separator == ","
    lines = refused(
        features='features { input_names: "tags" feature_type: TagFeature embedding_dim: 4 '
        'hash_bucket_size: 100 kv_separator: "=" }',
        groups='feature_groups { group_name: "all" feature_names: "tags" }',
    )
    assert len(lines) == 1 and "kv_separator: '=': easymtl reads 'id:weight'" in lines[0]


def test_raw_feature_dense_boundaries_and_min_max(easyrec):
    feature, _ = _feature(
        easyrec,
        'features { input_names: "price" feature_type: RawFeature }',
        "price",
    )
    _expect(feature, 'raw_feature { feature_name: "price" pooling: "sum" }')
    feature, _ = _feature(
        easyrec,
        'features { input_names: "price" feature_type: RawFeature boundaries: [10, 1, 5] '
        "embedding_dim: 4 }",
        "price",
    )
    assert list(feature.raw_feature.boundaries) == [1, 5, 10]  # EasyRec sorts them
    assert feature.raw_feature.embedding_dim == 4
    feature, _ = _feature(
        easyrec,
        'features { input_names: "price" feature_type: RawFeature min_val: 0 max_val: 200 }',
        "price",
    )
    assert feature.raw_feature.normalizer == "method=minmax,min=0,max=200"
    # num_buckets equal buckets of [min_val, max_val], as EasyRec's bucketized column.
    feature, _ = _feature(
        easyrec,
        'features { input_names: "price" feature_type: RawFeature min_val: 0 max_val: 200 '
        "num_buckets: 4 embedding_dim: 4 }",
        "price",
    )
    assert list(feature.raw_feature.boundaries) == [0, 50, 100, 150]


def test_raw_feature_multi_dim_and_projection(easyrec):
    feature, _ = _feature(
        easyrec,
        'features { input_names: "kv" feature_type: RawFeature raw_input_dim: 3 }',
        "kv",
    )
    assert feature.raw_feature.value_dim == 3 and feature.raw_feature.separator == "|"
    # EasyRec embeds a raw value with embedding_dim and no boundaries as the value times
    # a learned matrix: easymtl's mlp dense embedding.
    feature, _ = _feature(
        easyrec,
        'features { input_names: "price" feature_type: RawFeature embedding_dim: 4 '
        "min_val: 0 max_val: 10 }",
        "price",
    )
    raw = feature.raw_feature
    assert raw.HasField("mlp") and raw.embedding_dim == 4 and not raw.boundaries
    assert raw.normalizer == "method=minmax,min=0,max=10"


def test_combo_feature(easyrec):
    feature, conversion = _feature(
        easyrec,
        'features { feature_name: "u_c" input_names: ["user_id", "cate_id"] '
        "feature_type: ComboFeature embedding_dim: 4 hash_bucket_size: 1000 }",
        "u_c",
    )
    _expect(
        feature,
        'combo_feature { feature_name: "u_c" expression: ["user_id", "cate_id"] '
        'embedding_dim: 4 hash_bucket_size: 1000 pooling: "sum" }',
    )
    assert next(n for n in conversion.notes if n.source == "feature_config.features[1]").differs


def test_lookup_feature(easyrec):
    feature, _ = _feature(
        easyrec,
        'features { feature_name: "kv_cate" input_names: ["cate_id", "kv"] '
        'feature_type: LookupFeature embedding_dim: 4 hash_bucket_size: 100 kv_separator: ":" }',
        "kv_cate",
    )
    _expect(
        feature,
        'lookup_feature { feature_name: "kv_cate" key: "cate_id" map: "kv" embedding_dim: 4 '
        'hash_bucket_size: 100 need_discrete: true pooling: "sum" separator: "|" }',
    )


def test_sequence_feature_id_and_raw(easyrec):
    feature, _ = _feature(
        easyrec,
        'features { input_names: "seq" feature_type: SequenceFeature embedding_dim: 4 '
        "hash_bucket_size: 100 max_seq_len: 20 }",
        "seq",
        validate=False,  # a sequence in a plain DEEP group needs an encoder in easymtl
    )
    _expect(
        feature,
        'sequence_id_feature { feature_name: "seq" sequence_delim: "|" sequence_length: 20 '
        'embedding_dim: 4 hash_bucket_size: 100 pooling: "sum" }',
    )
    feature, _ = _feature(
        easyrec,
        'features { input_names: "seq" feature_type: SequenceFeature sub_feature_type: '
        "RawFeature max_seq_len: 5 }",
        "seq",
        validate=False,
    )
    assert feature.WhichOneof("feature") == "sequence_raw_feature"
    # Without max_seq_len EasyRec keeps every item: easymtl keeps up to 10,000.
    feature, conversion = _feature(
        easyrec,
        'features { input_names: "seq" feature_type: SequenceFeature embedding_dim: 4 '
        "hash_bucket_size: 100 }",
        "seq",
        validate=False,
    )
    assert feature.sequence_id_feature.sequence_length == 10000
    assert any("differs: sequence_length 10000" in n.text for n in conversion.notes)


def test_expr_feature(easyrec):
    feature, _ = _feature(
        easyrec,
        'features { feature_name: "cheap_click" input_names: ["price", "clk"] '
        'feature_type: ExprFeature expression: "price < 10 & clk > 0" }',
        "cheap_click",
    )
    _expect(
        feature,
        'expr_feature { feature_name: "cheap_click" expression: "price < 10 & clk > 0" '
        'variables: ["price", "clk"] fill_missing: 0 }',
    )


def test_pass_through_feature_is_one_line(refused):
    lines = refused(
        features='features { input_names: "user_id" feature_type: PassThroughFeature }',
    )
    assert len(lines) == 1
    assert "features[0].feature_type: PassThroughFeature is not converted" in lines[0]


def test_shared_names_copy_the_feature(easyrec):
    conversion = easyrec(
        features='features { input_names: "user_id" feature_type: IdFeature embedding_dim: 4 '
        'hash_bucket_size: 10 shared_names: ["cate_id"] embedding_name: "shared" }',
        groups='feature_groups { group_name: "all" feature_names: ["user_id", "cate_id"] }',
    )
    names = [f.id_feature.feature_name for f in conversion.config.feature_configs]
    assert names == ["user_id", "cate_id"]
    assert {f.id_feature.embedding_name for f in conversion.config.feature_configs} == {"shared"}


def test_unused_features_are_dropped_as_easyrec_skips_them(easyrec):
    conversion = easyrec(
        features=(
            'features { input_names: "user_id" feature_type: IdFeature embedding_dim: 4 '
            "hash_bucket_size: 10 }\n"
            'features { input_names: "cate_id" feature_type: IdFeature embedding_dim: 4 '
            "hash_bucket_size: 10 }"
        )
    )
    assert len(conversion.config.feature_configs) == 1
    assert any("'cate_id' dropped: in no feature group" in n.text for n in conversion.notes)


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ("ev_params { filter_freq: 2 }", "ev_params", "EmbeddingVariable is DeepRec's"),
        ('combiner: "sqrtn"', "combiner", "easymtl pools by 'sum' or 'mean'"),
        ("embedding_dimm: 4", "embedding_dimm", "not a field of EasyRec's FeatureConfig"),
    ],
)
def test_refusals_name_the_field_and_its_line(refused, extra, field, message):
    features = (
        'features { input_names: "user_id" feature_type: IdFeature embedding_dim: 4 '
        f"hash_bucket_size: 10\n  {extra} }}"
    )
    lines = refused(features=features)
    assert len(lines) == 1
    text = easyrec_text(features=features)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if extra in t)
    assert re.fullmatch(rf"er\.config:{line}: feature_config\.features\[0\]\.{field}: .*", lines[0])
    assert message in lines[0]


def test_initializer(easyrec, refused):
    feature, _ = _feature(
        easyrec,
        'features { input_names: "cate_id" feature_type: IdFeature embedding_dim: 4 '
        "hash_bucket_size: 9 initializer { random_normal_initializer { stddev: 0.1 } } }",
        "cate_id",
    )
    assert feature.id_feature.init_fn == "nn.init.normal_,mean=0,std=0.1"
    lines = refused(
        features='features { input_names: "user_id" feature_type: IdFeature embedding_dim: 4 '
        "hash_bucket_size: 9 initializer { glorot_normal_initializer {} } }"
    )
    assert (
        len(lines) == 1
        and "initializer.glorot_normal_initializer: easymtl.convert reads" in lines[0]
    )


def test_init_fn_builds_the_table_initializer_and_a_bad_one_is_a_config_error(tmp_path):
    from easymtl.config import load_config
    from easymtl.errors import EasymtlError
    from easymtl.features.init_fn import parse_init_fn

    assert parse_init_fn("nn.init.trunc_normal_,mean=0,std=0.25,a=-0.5,b=0.5") == {
        "class_name": "TruncatedNormal",
        "config": {"mean": 0.0, "stddev": 0.25},
    }
    text = (ROOT / "samples/configs/mmoe_taobao.config").read_text()
    before = "hash_bucket_size: 100000\n        embedding_dim: 16"
    bad = text.replace(before, before + '\n        init_fn: "nn.init.trunc_normal_,std=0.25"', 1)
    assert bad != text
    path = tmp_path / "bad.config"
    path.write_text(bad)
    with pytest.raises(
        EasymtlError, match=r"id_feature\.init_fn: easymtl's truncated normal cuts at 2 std"
    ):
        load_config(str(path))
