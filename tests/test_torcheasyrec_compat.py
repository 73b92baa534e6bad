"""TorchEasyRec configs mean what they mean there: fields accepted as TorchEasyRec accepts
them, and the defaults audit of docs/coming_from_torcheasyrec.md, row by row."""

from __future__ import annotations

import logging

from easymtl.config import load_config
from tests.conftest import make_config


def test_odps_only_data_fields_are_ignored_with_one_info_line(tmp_path, caplog):
    path = make_config(
        tmp_path,
        extra='data_config { odps_data_quota_name: "" odps_data_compression: "ZSTD" '
        "is_orderby_partition: true }",
    )
    with caplog.at_level(logging.INFO, logger="easymtl"):
        config = load_config(str(path))
    assert config.data_config.odps_data_quota_name == ""
    lines = [r.getMessage() for r in caplog.records if "OdpsDataset only" in r.getMessage()]
    assert lines == [
        "data_config.is_orderby_partition, odps_data_quota_name, odps_data_compression: "
        "OdpsDataset only; ignored for CsvDataset"
    ]


def test_no_info_line_without_odps_fields(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="easymtl"):
        load_config(str(make_config(tmp_path)))
    assert not [r for r in caplog.records if "OdpsDataset" in r.getMessage()]


# ------------------------------------------------------------------ the defaults audit
# One check per row of the audit table in docs/coming_from_torcheasyrec.md (its `check`
# column); test_audit_row runs each, test_every_audit_row_has_a_check ties them together.

import re  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from google.protobuf import text_format  # noqa: E402

from easymtl.errors import EasymtlError  # noqa: E402
from easymtl.protos import (  # noqa: E402
    data_pb2,
    export_pb2,
    feature_pb2,
    loss_pb2,
    metric_pb2,
    model_pb2,
    module_pb2,
    multi_task_rank_pb2,
    seq_encoder_pb2,
    train_pb2,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "coming_from_torcheasyrec.md"
CHECKS = {}


def check(fn):
    CHECKS[fn.__name__.removeprefix("check_")] = fn
    return fn


def ids_of(layer, cells):
    import tensorflow as tf

    out = layer(tf.constant(cells))
    return out


@check
def check_odps_fields(tmp_path):
    test_odps_only_data_fields_are_ignored_with_one_info_line(tmp_path, _Caplog())


class _Caplog:
    """A minimal caplog for reusing the test above outside pytest's fixture."""

    def __init__(self):
        import logging

        self.records = []
        handler = logging.Handler()
        handler.emit = self.records.append
        self.handler = handler

    def at_level(self, level, logger):
        import contextlib
        import logging

        @contextlib.contextmanager
        def ctx():
            log = logging.getLogger(logger)
            old = log.level
            log.setLevel(level)
            log.addHandler(self.handler)
            try:
                yield
            finally:
                log.removeHandler(self.handler)
                log.setLevel(old)

        return ctx()


@check
def check_dataset_type(tmp_path):
    assert data_pb2.DataConfig().dataset_type == data_pb2.CsvDataset
    path = make_config(tmp_path, extra="data_config { dataset_type: OdpsDataset }")
    with pytest.raises(EasymtlError, match="OdpsDataset is not supported"):
        load_config(str(path))


@check
def check_csv_header(tmp_path):
    from easymtl.data.csv_lines import header_problem

    config = data_pb2.DataConfig()
    for name in ("a", "b"):
        config.input_fields.add(input_name=name)
    assert header_problem(["a", "b"], config) is None
    assert "input_fields[0] 'a' is column 2 of its header" in header_problem(["b", "a"], config)


@check
def check_input_type(tmp_path):
    assert data_pb2.Field(input_name="x").input_type == data_pb2.STRING


@check
def check_parquet_nulls(tmp_path):
    from easymtl.config import PipelineConfig
    from easymtl.features.id_feature.layer import IdFeature
    from easymtl.features.null_cells import null_defaults

    config = text_format.Parse(
        """feature_configs { id_feature { feature_name: "a" num_buckets: 5 embedding_dim: 4 } }
        feature_configs { raw_feature { feature_name: "b" } }
        feature_configs { id_feature { feature_name: "c" hash_bucket_size: 5 embedding_dim: 4 } }
        data_config { label_fields: "y" }""",
        PipelineConfig(),
    )
    assert null_defaults(config) == {"a": "-1", "b": "0"}  # c: a hashed -1 is an id
    import tensorflow as tf

    assert IdFeature(num_buckets=5)(tf.constant([-1, 3], tf.int64)).to_list() == [[], [3]]


@check
def check_shuffle_buffer(tmp_path):
    assert data_pb2.DataConfig().shuffle_buffer_size == 32768


def _id_layer(text: str):
    from easymtl.features.id_feature.layer import build_id_feature

    proto = text_format.Parse(f'feature_name: "f" embedding_dim: 4 {text}', feature_pb2.IdFeature())
    return build_id_feature(proto)[0].layer


@check
def check_id_separator(tmp_path):
    layer = _id_layer("hash_bucket_size: 100")
    assert layer.separator == "\x1d"
    ids = ids_of(layer, ["a\x1db", "a", ""]).to_list()
    assert [len(r) for r in ids] == [2, 1, 0] and ids[0][0] == ids[1][0]


@check
def check_weighted_items(tmp_path):
    ids, weights = ids_of(
        _id_layer("num_buckets: 2000 weighted: true"), ["689:0.646\x1d1468:0.879"]
    )
    assert ids.to_list() == [[689, 1468]]
    np.testing.assert_allclose(weights.to_list()[0], [0.646, 0.879], rtol=1e-6)


@check
def check_combo_separator(tmp_path):
    assert feature_pb2.ComboFeature().separator == "\x1d"


@check
def check_vocab_list(tmp_path):
    # TorchEasyRec's tzrec/features/id_feature_test.py test_id_feature_with_vocab_list.
    cases = [
        ("", ["abc", "efg"], None, [[2, 3], [], [1]]),
        ("xyz", ["abc", "efg"], None, [[2, 3], [0], [1]]),
        ("abc", ["abc", "efg"], None, [[2, 3], [2], [1]]),
        ("", ["xyz", "abc", "efg"], 0, [[1, 2], [], [0]]),
    ]
    for default, vocab, dbv, want in cases:
        text = " ".join(f'vocab_list: "{v}"' for v in vocab)
        text += f' default_value: "{default}"' if default else ""
        text += f" default_bucketize_value: {dbv}" if dbv is not None else ""
        assert ids_of(_id_layer(text), ["abc\x1defg", "", "hij"]).to_list() == want


@check
def check_id_default_value(tmp_path):
    assert ids_of(_id_layer("hash_bucket_size: 10"), [""]).to_list() == [[]]


@check
def check_raw_defaults(tmp_path):
    raw = feature_pb2.RawFeature()
    assert (raw.default_value, raw.separator) == ("0", "\x1d")


def _task(text: str):
    from easymtl.protos import tower_pb2
    from easymtl.tasks import build_task

    return build_task(
        text_format.Parse(
            f'tower_name: "t" label_name: "y" losses {{ binary_cross_entropy {{}} }} {text}',
            tower_pb2.TaskTower(),
        )
    )


LABELS = {"y": [1.0, 0.0, 1.0, 0.0, 0.0], "clk": [1, 1, 0, 0, 1], "w": [1.0, 2.0, 0.5, 1.0, 3.0]}
LOGITS = [0.3, -1.2, 2.0, 0.1, -0.4]


def _bce(logits, y):
    logits, y = np.asarray(logits), np.asarray(y)
    return np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))


def _loss(task):
    import tensorflow as tf

    labels = {k: tf.constant(v) for k, v in LABELS.items()}
    return float(task.loss(labels, {"logits_t": tf.constant(LOGITS)}))


@check
def check_task_loss(tmp_path):
    task = _task(
        'task_space_indicator_label: "clk" in_task_space_weight: 2 out_task_space_weight: 0.5'
    )
    w = np.where(np.array(LABELS["clk"]) > 0, 2.0, 0.5)
    assert _loss(task) == pytest.approx(np.mean(_bce(LOGITS, LABELS["y"]) * w / w.mean()), rel=1e-6)


@check
def check_sample_weight(tmp_path):
    w = np.array(LABELS["w"])
    want = np.mean(_bce(LOGITS, LABELS["y"]) * w / w.mean())
    assert _loss(_task('sample_weight_name: "w"')) == pytest.approx(want, rel=1e-6)


@check
def check_tower_weight(tmp_path):
    assert _task("weight: 0.3").weight == pytest.approx(0.3)


@check
def check_task_metrics(tmp_path):
    assert not _task('task_space_indicator_label: "clk"').metrics_over_task_space


@check
def check_gauc(tmp_path):
    assert metric_pb2.GroupedAUC(grouping_key="u").average == "macro"


def _torchmetrics_binned_auc(y, p, n=200):
    """torchmetrics' binary AUROC with `thresholds=n` (TorchEasyRec's auc): thresholds
    evenly over [0, 1], the ROC's trapezoids."""
    t = np.linspace(0, 1, n)
    tpr = np.array([((p >= x) & (y == 1)).sum() for x in t]) / (y == 1).sum()
    fpr = np.array([((p >= x) & (y == 0)).sum() for x in t]) / (y == 0).sum()
    order = np.argsort(fpr, kind="stable")
    return float(np.trapezoid(tpr[order], fpr[order]))


@check
def check_auc_bins(tmp_path):
    import tensorflow as tf

    from easymtl.metrics.auc import StreamingAUC
    from easymtl.testing import exact_auc

    rng = np.random.default_rng(0)
    z = rng.normal(-4.0, 1.0, 100_000)
    p = 1 / (1 + np.exp(-z))
    y = (rng.random(len(p)) < 1 / (1 + np.exp(-(z + rng.normal(0, 1, len(z)))))).astype(float)
    assert 0.03 < y.mean() < 0.05
    auc = StreamingAUC(200)
    auc.update_state(tf.constant(y, tf.float32), tf.constant(p, tf.float32))
    exact = exact_auc(y, p)
    ours, theirs = abs(float(auc.result()) - exact), abs(_torchmetrics_binned_auc(y, p) - exact)
    assert ours < 3e-4 and theirs > 1e-3, (ours, theirs)


@check
def check_emb_init(tmp_path):
    from easymtl.config import load_config as load
    from easymtl.runner import Runner

    path = make_config(tmp_path, features=["user_id", "price"])  # 100000 and 15 rows
    runner = Runner(load(str(path)))
    for name, rows in (("user_id_emb", 100000), ("price_emb", 15)):
        table = runner.model.features.tables[name].embeddings.numpy()
        assert table.shape[0] == rows
        bound = rows**-0.5
        assert np.abs(table).max() <= bound and np.abs(table).max() > 0.9 * bound, name


@check
def check_two_class_auc(tmp_path):
    from tests.losses.test_jrc_loss import (
        test_two_class_tower_reads_its_session_column_and_class_one_for_auc as t,
    )

    t()


@check
def check_focal(tmp_path):
    import tensorflow as tf

    from easymtl.losses.binary_focal_loss import binary_focal_loss

    logits = tf.Variable([0.5, -1.0])
    y = tf.constant([1.0, 0.0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(binary_focal_loss(y, logits, 2.0, 0.25))
    p = 1 / (1 + np.exp(-np.array([0.5, -1.0])))
    weight = 0.25 * np.array([1, 0]) * (1 - p) ** 2 + 0.75 * np.array([0, 1]) * p**2
    np.testing.assert_allclose(tape.gradient(loss, logits), weight * (p - [1, 0]), rtol=1e-5)


@check
def check_bce_smoothing(tmp_path):
    from easymtl.losses import build_loss

    _, fn = build_loss(
        text_format.Parse("binary_cross_entropy { label_smoothing: 0.2 }", loss_pb2.LossConfig())
    )
    import tensorflow as tf

    got = float(fn(tf.constant([1.0]), tf.constant([0.7]))[0])
    assert got == pytest.approx(float(_bce([0.7], [0.9])[0]), rel=1e-6)


@check
def check_dense_eps(tmp_path):
    from tests.test_optimizers import test_dense_epsilons_are_torcheasyrec_defaults as t

    t()


@check
def check_sparse_eps(tmp_path):
    from easymtl.optimizers import RowWiseOptimizer

    assert RowWiseOptimizer("adagrad", 0.1).epsilon == pytest.approx(1e-8)


@check
def check_rowwise_adagrad(tmp_path):
    from tests.test_optimizers import test_rowwise_adagrad_keeps_one_accumulator_per_row as t

    t()


@check
def check_save_epochs(tmp_path):
    from easymtl.checkpoints import SaveSchedule

    schedule = SaveSchedule(
        train_pb2.TrainConfig(save_checkpoints_epochs=2, save_checkpoints_steps=1)
    )
    assert not schedule.after_step(1)
    assert [schedule.epoch_ended(e) for e in (0, 1, 1, 2, 3, 4)] == [
        False,
        False,
        False,
        True,
        False,
        True,
    ]


@check
def check_mixed_precision(tmp_path):
    from easymtl.precision import bf16_hardware, policy_name, precision_hardware

    assert policy_name("") is None
    assert policy_name("BF16") == ("mixed_bfloat16" if bf16_hardware() else None)
    # float16 on a GPU of compute capability >= 7.0 (with loss scaling), never a CPU.
    assert policy_name("FP16") == ("mixed_float16" if precision_hardware("FP16") else None)


@check
def check_train_metrics(tmp_path):
    tm = metric_pb2.TrainMetricConfig()
    assert (tm.decay_rate, tm.decay_step) == (pytest.approx(0.9), 100)


@check
def check_jrc(tmp_path):
    assert loss_pb2.JRCLoss(session_name="u").alpha == pytest.approx(0.5)
    from tests.losses.test_jrc_loss import test_matches_torcheasyrec_row_by_row as t

    t(0.5)


@check
def check_variational_dropout(tmp_path):
    assert module_pb2.VariationalDropout().regularization_lambda == pytest.approx(0.01)
    from tests.layers.test_variational_dropout import (
        test_inference_scales_each_feature_by_one_minus_its_ratio_and_adds_the_penalty as t,
    )

    t()


@check
def check_pepnet(tmp_path):
    field = model_pb2.ModelConfig.DESCRIPTOR.fields_by_name["pepnet"]
    pep = multi_task_rank_pb2.PEPNet()
    assert field.number == 206 and (pep.epnet_gamma, pep.ppnet_gamma, pep.task_domain_num) == (
        2.0,
        2.0,
        1,
    )


@check
def check_din_exact_match(tmp_path):
    assert seq_encoder_pb2.DINEncoder().exact_match


@check
def check_feature_groups(tmp_path):
    from easymtl.models import build_model

    config = load_config(
        str(
            make_config(
                tmp_path,
                "mmoe",
                features=["user_id", "price"],
                extra=(
                    'model_config { feature_groups { group_name: "more" feature_names: "price" } }'
                ),
            )
        )  # fmt: skip
    )
    model = build_model(config.model_config, config.feature_configs)
    assert set(model.features.groups) == {"all", "more"}  # both read, concatenated


@check
def check_lookup_separator(tmp_path):
    assert feature_pb2.LookupFeature().separator == "\x1d"


@check
def check_best_metric(tmp_path):
    assert export_pb2.ExportConfig().best_exporter_metric == ""


@check
def check_steps_per_run(tmp_path):
    assert not train_pb2.TrainConfig().HasField("num_steps")


def audit_rows() -> list[str]:
    """The `check` names of the audit table's rows."""
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("**Defaults audit.**") : text.index("Other differences of form")]
    return re.findall(r"^\| `(\w+)` \|", table, flags=re.M)


def test_every_audit_row_has_a_check():
    rows = audit_rows()
    assert len(rows) >= 30 and len(set(rows)) == len(rows)
    assert set(rows) == set(CHECKS), set(rows) ^ set(CHECKS)


@pytest.mark.parametrize("row", audit_rows())
def test_audit_row(row, tmp_path):
    CHECKS[row](tmp_path)


# ------------------------------------------------------------------ fields with no effect here


def test_global_embedding_constraints_are_checked_and_noted(tmp_path, caplog):
    """TorchRec's sharding-plan constraints (TorchEasyRec's test config
    multi_tower_din_fg_mock_adagrad_init_acc sets them): read and noted in one info line
    (TorchEasyRec passes their values to TorchRec's planner; here they have no effect)."""
    extra = "train_config { global_embedding_constraints { sharding_types: %s } }"
    with caplog.at_level(logging.INFO, logger="easymtl"):
        config = load_config(str(make_config(tmp_path, extra=extra % "['table_wise', 'row_wise']")))
    assert list(config.train_config.global_embedding_constraints.sharding_types) == [
        "table_wise",
        "row_wise",
    ]
    assert any("global_embedding_constraints" in r.getMessage() for r in caplog.records)


def test_sparse_gradient_clipping_reaches_the_tables_of_its_optimizer(tmp_path):
    """TorchEasyRec's multi_tower_din_fg_mock_gradient_clipping: the sparse optimizer's
    gradient_clipping / max_gradient set each table's limit (the lookups clip)."""
    from easymtl.runner import Runner

    extra = (
        "train_config { sparse_optimizer { adagrad_optimizer { lr: 0.001 "
        "gradient_clipping: true max_gradient: 0.5 } } }"
    )
    runner = Runner(load_config(str(make_config(tmp_path, extra=extra))))
    assert {t.max_gradient for t in runner.model.features.tables.values()} == {0.5}
    bad = extra.replace("0.5", "0")
    with pytest.raises(EasymtlError, match="adagrad_optimizer.max_gradient: must be positive"):
        load_config(str(make_config(tmp_path, extra=bad)))


def test_a_feature_without_embedding_dim_that_nothing_names_is_left_out(tmp_path, caplog):
    """TorchEasyRec's parser does not check required fields and never embeds a feature in
    no group (its multi_tower_din_fg_dynamicemb_mock.config has one): left out, said once;
    named by a group, the missing field is the error at its line."""
    path = make_config(tmp_path)
    unused = 'feature_configs {\n  id_feature { feature_name: "id_9" num_buckets: 100 }\n}\n'
    text = path.read_text()
    at = text.index("feature_configs")
    path.write_text(text[:at] + unused + text[at:])
    with caplog.at_level(logging.INFO, logger="easymtl"):
        config = load_config(str(path))
    names = [getattr(f, f.WhichOneof("feature")).feature_name for f in config.feature_configs]
    assert "id_9" not in names and len(names) == text.count("feature_configs {")
    assert any("'id_9' has no embedding_dim and nothing in the config names it: left out" in
               r.getMessage() for r in caplog.records)  # fmt: skip
    named = path.read_text().replace("feature_names:", 'feature_names: "id_9" feature_names:', 1)
    path.write_text(named)
    line = text[:at].count("\n") + 2
    with pytest.raises(
        EasymtlError, match=rf":{line}: feature_configs\[\d+\]\.id_feature\.embedding_dim: required"
    ):
        load_config(str(path))


def test_a_sequence_feature_named_as_in_rtp_mode_is_one_clear_error(tmp_path):
    """TorchEasyRec's RTP mode (USE_RTP=1, its multi_tower_din_fg_rtp_mock.config) names a
    sequence's features <sequence_name>_<feature_name>: the error says so."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "samples/configs/mmoe_din_taobao.config").read_text()
    grouped = 'feature_names: "click_50_seq__cate_id"'
    assert grouped in text  # grouped by its TorchEasyRec default-mode name
    path = tmp_path / "rtp.config"
    path.write_text(text.replace(grouped, grouped.replace("seq__", "seq_")))
    with pytest.raises(EasymtlError, match="RTP mode .* write 'click_50_seq__cate_id'"):
        load_config(str(path))
