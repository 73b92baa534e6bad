"""Warm start (train_config.fine_tune_checkpoint): variables found by name and shape are
loaded, new and reshaped ones start fresh, resized unhashed tables keep their rows, the
counters start at 0, and every mismatch that cannot be loaded is one error line."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import make_config

from easymtl.config import load_config
from easymtl.errors import EasymtlError
from easymtl.lifecycle.warm_start import unescape
from easymtl.runner import Runner

pytestmark = pytest.mark.slow  # trains or starts processes: not in the fast lane

TINY = "train_config { num_steps: 2 } data_config { batch_size: 32 } "
TINY += "export_config { export_after_train: false }"


def ckpt_value(checkpoint: str, name: str) -> np.ndarray:
    escaped = name.replace(".", "..").replace("/", ".S")
    return tf.train.load_checkpoint(checkpoint).get_tensor(
        f"model/{escaped}/.ATTRIBUTES/VARIABLE_VALUE"
    )


def param_map(path) -> str:
    return f'train_config {{ fine_tune_ckpt_param_map: "{path}" }}'


def variable(runner, name):
    (found,) = [v for v in runner.model.variables if v.path == name]
    return found.numpy()


@pytest.fixture(scope="module")
def old(tmp_path_factory):
    """A trained 2-step MMoE without the price feature: (config, its checkpoint)."""
    tmp = tmp_path_factory.mktemp("old")
    config = load_config(str(make_config(tmp, "mmoe", TINY)))
    config.model_config.feature_groups[0].feature_names.remove("price")
    runner = Runner(config)
    assert runner.train() == 2
    return config, tf.train.latest_checkpoint(config.model_dir)


def new_config(tmp_path, old_checkpoint, extra=""):
    """The same MMoE with price added, a third tower, cms_segid's table grown from 100 to
    120 rows and pid's hash table from 20 to 30, warm started from `old_checkpoint`."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    extra = f'train_config {{ fine_tune_checkpoint: "{old_checkpoint}" }} ' + extra
    config = load_config(str(make_config(tmp_path, "mmoe", TINY + extra)))
    towers = config.model_config.mmoe.task_towers
    towers.add().CopyFrom(towers[0])
    towers[2].tower_name = "ctr2"
    for feature in config.feature_configs:
        f = feature.id_feature
        if f.feature_name == "cms_segid":
            f.num_buckets = 120
        if f.feature_name == "pid":
            f.hash_bucket_size = 30
    return config


def test_loads_by_name_and_shape_new_parts_start_fresh(old, tmp_path, caplog):
    _, checkpoint = old
    config = new_config(tmp_path, checkpoint)
    fresh = Runner(new_config(tmp_path / "fresh", checkpoint))  # same seed, no warm start
    runner = Runner(config)
    with caplog.at_level("INFO", logger="easymtl"):
        assert runner.restore() == 0
    report = runner.warm_start
    assert report.checkpoint == checkpoint
    loaded = dict(report.loaded)
    # Same name and shape: loaded, equal to the checkpoint, not the fresh init.
    for name in ("mmoe/features/user_id_emb/embeddings", "mmoe/tower_cvr/head/kernel"):
        assert loaded[name] == name
        np.testing.assert_array_equal(variable(runner, name), ckpt_value(checkpoint, name))
        assert not np.array_equal(variable(runner, name), variable(fresh, name))
    # The new feature's table and the new tower: fresh.
    assert "mmoe/features/price_emb/embeddings" in report.new
    assert "mmoe/tower_ctr2/head/kernel" in report.new
    # The experts' first layers read a wider input now: another shape, fresh.
    fresh_names = {n: (o, s) for n, o, s in report.fresh}
    assert fresh_names["mmoe/mmoe/expert_0/dense_0/kernel"] == ([136, 64], [144, 64])
    # cms_segid (num_buckets) grew: its 100 old rows kept, the new 20 fresh; pid's hashed
    # table grew too, but a hash moves every id: fresh.
    name = "mmoe/features/cms_segid_emb/embeddings"
    assert (name, [100, 8], [120, 8]) in report.resized
    table = variable(runner, name)
    np.testing.assert_array_equal(table[:100], ckpt_value(checkpoint, name))
    np.testing.assert_array_equal(table[100:], variable(fresh, name)[100:])
    assert ("mmoe/features/pid_emb/embeddings", [20, 8], [30, 8]) in report.fresh
    assert report.unused == []
    # Counters and optimizers start fresh.
    assert int(runner.global_step.numpy()) == 0 and int(runner.state.epoch.numpy()) == 0
    assert int(runner.state.dense_optimizer.iterations.numpy()) == 0
    assert not report.optimizer
    assert "warm start from" in caplog.text and "new (fresh): " in caplog.text
    assert "mmoe/tower_ctr2/head/kernel" in caplog.text


def test_trains_from_step_0_and_a_rerun_resumes_its_own_checkpoint(old, tmp_path, caplog):
    _, checkpoint = old
    config = new_config(tmp_path, checkpoint)
    assert Runner(config).train() == 2
    again = Runner(config)
    with caplog.at_level("INFO", logger="easymtl"):
        again.train()
    assert again.warm_start is None  # model_dir has a checkpoint: no second warm start
    assert "training already finished at step 2" in caplog.text
    (run,) = again.runs
    assert run.warm_start == checkpoint and run.start_step == 0 and run.end_step == 2


def test_param_map_renames_and_maps_prefixes(old, tmp_path):
    _, checkpoint = old
    mapping = tmp_path / "map.tsv"
    mapping.write_text(
        "# new name<TAB>old name\n"
        "mmoe/tower_ctr2/\tmmoe/tower_ctr/\n"
        "mmoe/tower_cvr/head/bias\tmmoe/tower_ctr/head/bias\n"
    )
    config = new_config(
        tmp_path, checkpoint, f'train_config {{ fine_tune_ckpt_param_map: "{mapping}" }}'
    )
    runner = Runner(config)
    runner.restore()
    loaded = dict(runner.warm_start.loaded)
    assert loaded["mmoe/tower_ctr2/head/kernel"] == "mmoe/tower_ctr/head/kernel"
    np.testing.assert_array_equal(
        variable(runner, "mmoe/tower_ctr2/head/kernel"),
        ckpt_value(checkpoint, "mmoe/tower_ctr/head/kernel"),
    )
    np.testing.assert_array_equal(
        variable(runner, "mmoe/tower_cvr/head/bias"),
        ckpt_value(checkpoint, "mmoe/tower_ctr/head/bias"),
    )
    # The old cvr bias went unused: nothing took it.
    assert runner.warm_start.unused == ["mmoe/tower_cvr/head/bias"]


@pytest.mark.parametrize(
    "lines, expected",
    [
        ("only-one-name\n", "line 1: expected 'new_name<TAB>old_name'"),
        ("mmoe/nope\tmmoe/tower_ctr/head/bias\n", "this model has no variable 'mmoe/nope'"),
        ("mmoe/tower_ctr/head/bias\tmmoe/nope\n", "has no variable 'mmoe/nope'"),
        (
            "mmoe/tower_ctr/head/bias\tmmoe/tower_ctr/head/kernel\n",
            "'mmoe/tower_ctr/head/kernel' has shape [32, 1], 'mmoe/tower_ctr/head/bias' [1]",
        ),
    ],
)
def test_a_param_map_that_cannot_be_applied_is_one_line(old, tmp_path, lines, expected):
    _, checkpoint = old
    mapping = tmp_path / "map.tsv"
    mapping.write_text(lines)
    config = new_config(
        tmp_path, checkpoint, f'train_config {{ fine_tune_ckpt_param_map: "{mapping}" }}'
    )
    with pytest.raises(EasymtlError, match="fine_tune_ckpt_param_map|fine_tune_checkpoint") as e:
        Runner(config).restore()
    assert expected in str(e.value) and "\n" not in str(e.value)


def test_optimizer_state_loads_into_the_same_model_only(old, tmp_path):
    old_config, checkpoint = old
    (tmp_path / "same").mkdir()
    same = load_config(str(make_config(tmp_path / "same", "mmoe", TINY)))
    same.model_config.feature_groups[0].feature_names.remove("price")
    same.train_config.fine_tune_checkpoint = checkpoint
    same.train_config.fine_tune_restore_optimizer = True
    runner = Runner(same)
    runner.restore()
    assert runner.warm_start.optimizer
    assert int(runner.state.dense_optimizer.iterations.numpy()) == 2
    assert int(runner.global_step.numpy()) == 0
    reader = tf.train.load_checkpoint(checkpoint)
    slot = runner.state.sparse_optimizer.slots[0][0].numpy()
    np.testing.assert_array_equal(
        slot, reader.get_tensor("sparse_optimizer/slots/0/0/.ATTRIBUTES/VARIABLE_VALUE")
    )
    assert slot.any()  # Adagrad accumulated something in 2 steps

    different = new_config(
        tmp_path, checkpoint, "train_config { fine_tune_restore_optimizer: true }"
    )
    with pytest.raises(EasymtlError, match="stored by position, so it loads only into the same"):
        Runner(different).restore()


def test_unusable_checkpoints_are_one_line(old, tmp_path):
    _, checkpoint = old
    with pytest.raises(EasymtlError, match="no checkpoint there"):
        Runner(new_config(tmp_path, str(tmp_path / "missing"))).restore()
    (tmp_path / "empty").mkdir()
    with pytest.raises(EasymtlError, match="the directory holds no checkpoint"):
        Runner(new_config(tmp_path, str(tmp_path / "empty"))).restore()
    # A PLE's variables are all named ple/...: nothing matches an MMoE's.
    (tmp_path / "ple").mkdir()
    config = load_config(str(make_config(tmp_path / "ple", "ple", TINY)))
    config.train_config.fine_tune_checkpoint = checkpoint
    with pytest.raises(EasymtlError, match="none of its .* model variables matches") as e:
        Runner(config).restore()
    assert "fine_tune_ckpt_param_map" in str(e.value)


def test_unescape_reverses_checkpoint_names():
    assert unescape("mmoe.Stower_ctr.Shead.Skernel") == "mmoe/tower_ctr/head/kernel"
    assert unescape("a..b.Sc") == "a.b/c"
