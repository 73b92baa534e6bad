"""combo_feature: crossed values of several columns, hashed or looked up, in a feature
group; its config checks."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from easymtl.config import validate
from easymtl.errors import ConfigError
from easymtl.features import build_feature_inputs
from easymtl.features.combo_feature.layer import ComboFeature
from easymtl.protos import model_pb2, pipeline_pb2


def test_every_combination_of_the_values_is_one_id():
    f = ComboFeature(vocab_list=["ios_12", "and_7"], separator="|")
    ids = f([tf.constant(["ios|and", "", "and"]), tf.constant(["12|7", "7", "7"])])
    # ios_12 → 2, ios_7 / and_12 unknown → 1, and_7 → 3 (TorchEasyRec's rows); an empty
    # cell crosses nothing.
    assert ids.to_list() == [[2, 1, 1, 3], [], [3]]
    # Empty tokens between separators are skipped: "|ios||and|" holds ios and and.
    ids = f([tf.constant(["|ios||and|", "||"]), tf.constant(["12||7", "7"])])
    assert ids.to_list() == [[2, 1, 1, 3], []]
    hashed = ComboFeature(hash_bucket_size=1000, default_value="none")
    expected = tf.strings.to_hash_bucket_fast(["none_5", "a_5"], 1000).numpy().tolist()
    assert hashed([tf.constant(["", "a"]), tf.constant([5, 5], tf.int64)]).to_list() == [
        [expected[0]],
        [expected[1]],
    ]
    assert ComboFeature.from_config(f.get_config()).get_config() == f.get_config()
    with pytest.raises(ValueError, match="Exactly one"):
        ComboFeature()


def test_a_combo_feature_in_a_group_embeds_its_crosses():
    config = pipeline_pb2.PipelineConfig()
    text_format.Parse(
        'feature_configs { combo_feature { feature_name: "os_cate" expression: ["user:os", '
        '"item:cate"] hash_bucket_size: 100 embedding_dim: 4 pooling: "mean" } }',
        config,
    )
    groups = model_pb2.ModelConfig()
    text_format.Parse('feature_groups { group_name: "g" feature_names: "os_cate" }', groups)
    layer = build_feature_inputs(config.feature_configs, groups.feature_groups)
    assert layer.used_inputs == ["os", "cate"]
    out = layer({"os": tf.constant(["ios", ""]), "cate": tf.constant(["3", "4"])})["g"]
    table = keras.ops.convert_to_numpy(layer.tables["os_cate_emb"].embeddings)
    row = tf.strings.to_hash_bucket_fast(["ios_3"], 100).numpy()[0]
    np.testing.assert_allclose(out, [table[row], np.zeros(4)], rtol=1e-6)


BASE = """
data_config { label_fields: "clk" input_fields { input_name: "clk" input_type: INT32 }
    input_fields { input_name: "os" } input_fields { input_name: "cate" } }
model_config { feature_groups { group_name: "g" feature_names: "x" }
    simple_multi_task { task_towers { tower_name: "ctr" label_name: "clk"
        losses { binary_cross_entropy {} } } } }
"""


@pytest.mark.parametrize(
    "combo, field, message",
    [
        ('expression: ["os"] hash_bucket_size: 9', "expression", "two or more inputs"),
        ('expression: ["os", "city"] hash_bucket_size: 9', "expression[1]", "'city'"),
        ('expression: ["os", "cate"]', "combo_feature", "exactly one of"),
        (
            'expression: ["os", "cate"] hash_bucket_size: 9 embedding_dim: 0',
            "embedding_dim",
            "positive",
        ),
    ],
)
def test_bad_combo_feature_config(combo, field, message):
    config = pipeline_pb2.PipelineConfig()
    text_format.Parse(BASE, config)
    dim = "" if "embedding_dim" in combo else " embedding_dim: 4"
    text_format.Merge(
        f'feature_configs {{ combo_feature {{ feature_name: "x" {combo}{dim} }} }}', config
    )
    with pytest.raises(ConfigError, match=message) as e:
        validate(config)
    assert e.value.field.endswith(field)
