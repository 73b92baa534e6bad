"""TorchEasyRec's ``trainable: false`` on a feature: its embedding table is not trained."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FEW_FEATURES, make_config

from easymtl.config import load_config
from easymtl.errors import EasymtlError

pytestmark = pytest.mark.slow  # trains: not in the fast lane


def _config(tmp_path, frozen: dict[str, bool], features=FEW_FEATURES):
    extra = "train_config { num_steps: 3 }"
    config = load_config(str(make_config(tmp_path, "mmoe", extra, features=features)))
    for fc in config.feature_configs:
        kind = fc.WhichOneof("feature")
        msg = getattr(fc, kind)
        if msg.feature_name in frozen:
            msg.trainable = frozen[msg.feature_name]
    return config


def test_a_frozen_table_stays_as_it_is_and_the_others_train(tmp_path):
    from easymtl.runner import Runner

    runner = Runner(_config(tmp_path, {"user_id": False}))
    tables = runner.model.features.tables
    # user_id's own table; tag_brand_list reads the sample's shared table "brand".
    frozen, trained = ["user_id_emb"], ["brand"]
    assert not tables["user_id_emb"].trainable and tables["brand"].trainable
    before = {n: tables[n].embeddings.numpy().copy() for n in frozen + trained}
    runner.train()
    np.testing.assert_array_equal(tables[frozen[0]].embeddings.numpy(), before[frozen[0]])
    assert not np.array_equal(tables[trained[0]].embeddings.numpy(), before[trained[0]])


def test_features_sharing_a_table_agree_on_trainable(tmp_path):
    from easymtl.runner import Runner

    config = _config(tmp_path, {"user_id": False}, ["user_id", "adgroup_id"])
    for fc in config.feature_configs:  # both 100,000 x 16
        if fc.id_feature.feature_name in ("user_id", "adgroup_id"):
            fc.id_feature.embedding_name = "shared"
    with pytest.raises(EasymtlError) as e:
        Runner(config)
    assert (
        "feature 'adgroup_id': trainable: true, but it shares embedding 'shared' with "
        "feature 'user_id', which says trainable: false" in str(e.value)
    )


def test_a_zch_table_is_not_frozen(tmp_path):
    from easymtl.runner import Runner

    config = _config(tmp_path, {"user_id": False})
    for fc in config.feature_configs:
        if fc.id_feature.feature_name == "user_id":
            fc.id_feature.ClearField("hash_bucket_size")
            fc.id_feature.zch.zch_size = 1000
    with pytest.raises(EasymtlError, match="'user_id': trainable: false, but its table is a zch"):
        Runner(config)
