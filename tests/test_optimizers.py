"""Row-wise sparse optimizers, the warm-up/decay schedule and the dense optimizer builder."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from easymtl.features.embedding import EmbeddingTable
from easymtl.optimizers import (
    RowWiseOptimizer,
    WarmupExponentialDecay,
    build_dense_optimizer,
    build_sparse_optimizer,
)
from easymtl.protos import optimizer_pb2

START = np.arange(10, dtype="float32").reshape(5, 2) / 10


def slices(rows, values) -> tf.IndexedSlices:
    return tf.IndexedSlices(
        tf.constant(values, tf.float32), tf.constant(rows, tf.int64), tf.constant([5, 2])
    )


# Rows 1 (twice) and 3: row 1's gradient sums to [1.5, -1], row 3's is [2, 4].
GRAD = slices([1, 3, 1], [[1.0, -2.0], [2.0, 4.0], [0.5, 1.0]])
SUMMED = {1: np.array([1.5, -1.0]), 3: np.array([2.0, 4.0])}
UNTOUCHED = [0, 2, 4]


def apply(optimizer: RowWiseOptimizer, grad=GRAD, step: int = 0, var=None) -> np.ndarray:
    var = var if var is not None else tf.Variable(START)
    if not optimizer.slots:
        optimizer.build([var])
    optimizer.apply([grad], [var], tf.constant(step, tf.int64))
    return np.asarray(keras.ops.convert_to_numpy(var))


def test_sgd_updates_touched_rows_with_summed_duplicates():
    got = apply(RowWiseOptimizer("sgd", 0.1))
    want = START.copy()
    for row, g in SUMMED.items():
        want[row] -= 0.1 * g
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_array_equal(got[UNTOUCHED], START[UNTOUCHED])


def test_adagrad_matches_numpy_over_two_steps():
    opt = RowWiseOptimizer("adagrad", 0.5, initial_accumulator_value=0.1, epsilon=1e-7)
    var = tf.Variable(START)
    apply(opt, step=0, var=var)
    second = slices([3, 4], [[1.0, 1.0], [-1.0, 2.0]])
    got = apply(opt, second, step=1, var=var)

    want, accum = START.astype("float64"), np.full((5, 2), 0.1)
    for grads in (SUMMED, {3: np.array([1.0, 1.0]), 4: np.array([-1.0, 2.0])}):
        for row, g in grads.items():
            accum[row] += g * g
            want[row] -= 0.5 * g / (np.sqrt(accum[row]) + 1e-7)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(opt.slots[0][0].numpy(), accum, rtol=1e-6)
    np.testing.assert_array_equal(got[[0, 2]], START[[0, 2]])


def test_rowwise_adagrad_keeps_one_accumulator_per_row():
    """fbgemm's ROWWISE_ADAGRAD (TorchEasyRec's rowwise_adagrad_optimizer): each row's
    accumulator grows by the mean of its squared gradient."""
    opt = RowWiseOptimizer("rowwise_adagrad", 0.5)
    var = tf.Variable(START)
    apply(opt, step=0, var=var)
    second = slices([3, 4], [[1.0, 1.0], [-1.0, 2.0]])
    got = apply(opt, second, step=1, var=var)
    want, accum = START.astype("float64"), np.zeros(5)
    for grads in (SUMMED, {3: np.array([1.0, 1.0]), 4: np.array([-1.0, 2.0])}):
        for row, g in grads.items():
            accum[row] += np.mean(g * g)
            want[row] -= 0.5 * g / (np.sqrt(accum[row]) + 1e-8)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert opt.slots[0][0].shape == (5, 1)
    np.testing.assert_allclose(opt.slots[0][0].numpy()[:, 0], accum, rtol=1e-6)
    built = build_sparse_optimizer(
        text_format.Parse("rowwise_adagrad_optimizer { lr: 0.01 }", optimizer_pb2.SparseOptimizer())
    )
    assert (built.kind, built.learning_rate) == ("rowwise_adagrad", pytest.approx(0.01))


def test_dense_epsilons_are_torcheasyrec_defaults():
    adam = build_dense_optimizer(optimizer_pb2.DenseOptimizer())
    adagrad = build_dense_optimizer(
        text_format.Parse("adagrad_optimizer { lr: 0.1 }", optimizer_pb2.DenseOptimizer())
    )
    assert adam.epsilon == pytest.approx(1e-8) and adagrad.epsilon == pytest.approx(1e-10)


def test_lazy_adam_matches_numpy_over_two_steps():
    b1, b2, eps, lr = 0.9, 0.99, 1e-7, 0.01
    opt = RowWiseOptimizer("adam", lr, beta1=b1, beta2=b2, epsilon=eps)
    var = tf.Variable(START)
    apply(opt, step=0, var=var)
    second = {3: np.array([1.0, 1.0]), 4: np.array([-1.0, 2.0])}
    got = apply(opt, slices(list(second), list(second.values())), step=1, var=var)

    want, m, v = START.astype("float64"), np.zeros((5, 2)), np.zeros((5, 2))
    for t, grads in enumerate((SUMMED, second), start=1):
        for row, g in grads.items():
            m[row] = b1 * m[row] + (1 - b1) * g
            v[row] = b2 * v[row] + (1 - b2) * g * g
            lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
            want[row] -= lr_t * m[row] / (np.sqrt(v[row]) + eps)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # Lazy: row 1 was not in the second batch, so its moments kept their first values.
    np.testing.assert_allclose(opt.slots[0][0].numpy(), m, rtol=1e-5)
    np.testing.assert_allclose(opt.slots[0][1].numpy(), v, rtol=1e-5)
    np.testing.assert_array_equal(got[[0, 2]], START[[0, 2]])


def test_dense_gradient_is_applied_to_every_row():
    got = apply(RowWiseOptimizer("sgd", 1.0), tf.ones((5, 2)))
    np.testing.assert_allclose(got, START - 1.0)


def test_none_gradient_is_skipped():
    opt = RowWiseOptimizer("sgd", 1.0)
    var = tf.Variable(START)
    opt.build([var])
    opt.apply([None], [var], tf.constant(0, tf.int64))
    np.testing.assert_array_equal(var.numpy(), START)


def test_schedule_learning_rate_is_read_at_the_step():
    schedule = WarmupExponentialDecay(1.0, decay_size=1, decay_factor=0.5)
    got = apply(RowWiseOptimizer("sgd", schedule), step=2)
    np.testing.assert_allclose(got[3], START[3] - 0.25 * SUMMED[3], rtol=1e-6)


@pytest.mark.parametrize("kind", ["sgd", "adagrad", "rowwise_adagrad", "adam"])
def test_embedding_table_gradient_in_tf_function(kind):
    table = EmbeddingTable(5, 2)
    table.build()
    table.embeddings.assign(START)
    opt = RowWiseOptimizer(kind, 0.1)
    opt.build(table.trainable_variables)
    ids = tf.ragged.constant([[1, 1], [3]], dtype=tf.int64)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(table(ids, pooling="sum"))
        grads = tape.gradient(loss, table.trainable_variables)
        opt.apply(grads, table.trainable_variables, tf.constant(0, tf.int64))

    step()
    got = keras.ops.convert_to_numpy(table.embeddings)
    np.testing.assert_array_equal(got[UNTOUCHED], START[UNTOUCHED])
    assert (got[[1, 3]] < START[[1, 3]]).all()


def test_slots_per_kind():
    var = tf.Variable(START)
    for kind, n in (("sgd", 0), ("adagrad", 1), ("adam", 2)):
        opt = RowWiseOptimizer(kind, 0.1, initial_accumulator_value=0.3)
        opt.build([var])
        assert len(opt.slots[0]) == n
        for slot in opt.slots[0]:
            np.testing.assert_allclose(slot.numpy(), np.full((5, 2), 0.3 if n == 1 else 0.0))


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="`kind`"):
        RowWiseOptimizer("rmsprop", 0.1)


def test_warmup_exponential_decay_staircase():
    schedule = WarmupExponentialDecay(
        0.1,
        decay_size=10,
        decay_factor=0.5,
        warmup_learning_rate=0.01,
        warmup_size=5,
        min_learning_rate=0.02,
    )
    steps = [0, 2, 5, 14, 15, 25, 35, 1000]
    want = [0.01, 0.01 + 0.09 * 2 / 5, 0.1, 0.1, 0.05, 0.025, 0.02, 0.02]
    np.testing.assert_allclose([float(schedule(s)) for s in steps], want, rtol=1e-6)


def test_exponential_decay_without_staircase_or_warmup():
    schedule = WarmupExponentialDecay(0.1, decay_size=10, decay_factor=0.5, staircase=False)
    got = [float(schedule(tf.constant(s, tf.int64))) for s in (0, 5, 10, 25)]
    np.testing.assert_allclose(got, [0.1 * 0.5 ** (s / 10) for s in (0, 5, 10, 25)], rtol=1e-6)


def test_schedule_config_round_trip_and_bad_decay_size():
    schedule = WarmupExponentialDecay(0.1, decay_size=3, warmup_size=2, min_learning_rate=0.01)
    clone = WarmupExponentialDecay.from_config(schedule.get_config())
    assert clone.get_config() == schedule.get_config()
    assert float(clone(7)) == float(schedule(7))
    with pytest.raises(ValueError, match="`decay_size`"):
        WarmupExponentialDecay(0.1, decay_size=0)


def dense_config(text: str) -> optimizer_pb2.DenseOptimizer:
    from google.protobuf import text_format

    return text_format.Parse(text, optimizer_pb2.DenseOptimizer())


@pytest.mark.parametrize(
    "text, cls, lr",
    [
        ("", keras.optimizers.Adam, 0.002),
        ("adam_optimizer { lr: 0.01 }", keras.optimizers.Adam, 0.01),
        ("sgd_optimizer { lr: 0.5 momentum: 0.8 }", keras.optimizers.SGD, 0.5),
        ("adagrad_optimizer { lr: 0.1 }", keras.optimizers.Adagrad, 0.1),
        ("adamw_optimizer { lr: 0.1 weight_decay: 0.01 }", keras.optimizers.AdamW, 0.1),
    ],
)
def test_build_dense_optimizer_picks_the_keras_class(text, cls, lr):
    opt = build_dense_optimizer(dense_config(text))
    assert isinstance(opt, cls)
    assert float(opt.learning_rate) == pytest.approx(lr)


def test_build_dense_optimizer_options():
    sgd = build_dense_optimizer(dense_config("sgd_optimizer { momentum: 0.8 }"))
    assert sgd.momentum == pytest.approx(0.8)
    assert sgd.weight_decay is None
    adam = build_dense_optimizer(
        dense_config("adam_optimizer { beta1: 0.5 beta2: 0.9 weight_decay: 0.1 }")
    )
    assert (adam.beta_1, adam.beta_2) == (pytest.approx(0.5), pytest.approx(0.9))
    assert adam.weight_decay == pytest.approx(0.1)
    adamw = build_dense_optimizer(dense_config("adamw_optimizer { weight_decay: 0.01 }"))
    assert adamw.weight_decay == pytest.approx(0.01)


def test_build_dense_optimizer_with_decay_schedule():
    opt = build_dense_optimizer(
        dense_config(
            "adam_optimizer { lr: 0.1 } exponential_decay_learning_rate "
            "{ decay_size: 10 decay_factor: 0.5 }"
        )
    )
    assert opt.get_config()["learning_rate"]["class_name"] == "WarmupExponentialDecay"
    assert float(opt.learning_rate) == pytest.approx(0.1)


def test_build_sparse_optimizer():
    from google.protobuf import text_format

    def build(text):
        return build_sparse_optimizer(text_format.Parse(text, optimizer_pb2.SparseOptimizer()))

    default = build("")
    assert (default.kind, default.learning_rate) == ("adagrad", pytest.approx(0.002))
    adagrad = build("adagrad_optimizer { lr: 0.05 initial_accumulator_value: 0.1 }")
    assert adagrad.initial_accumulator_value == pytest.approx(0.1)
    adam = build("adam_optimizer { beta1: 0.5 beta2: 0.9 }")
    assert (adam.kind, adam.beta1, adam.beta2) == ("adam", pytest.approx(0.5), pytest.approx(0.9))
    assert build("sgd_optimizer { lr: 0.3 }").kind == "sgd"
    decayed = build(
        "sgd_optimizer { lr: 1.0 } exponential_decay_learning_rate { decay_size: 2 "
        "decay_factor: 0.5 }"
    )
    assert float(decayed.lr(4)) == pytest.approx(0.25)


FUSED = [
    ("", {}),
    ("adam_optimizer { lr: 0.01 beta1: 0.5 beta2: 0.9 eps: 0.001 weight_decay: 0.1 }", {}),
    ("adamw_optimizer { lr: 0.01 weight_decay: 0.05 }", {}),
    ("sgd_optimizer { lr: 0.1 }", {}),
    ("sgd_optimizer { lr: 0.1 momentum: 0.8 }", {}),
    ("sgd_optimizer { lr: 0.1 momentum: 0.8 }", {"nesterov": True}),
]


@pytest.mark.parametrize("text, extra", FUSED)
@pytest.mark.parametrize("traced", [False, True])
def test_fused_updates_equal_keras_own(text, extra, traced):
    """Adam, AdamW and SGD update each variable in one kernel: after 5 steps (a learning
    rate schedule, two dtypes of gradient), the variables and slots equal those of Keras's
    own optimizer of the same arguments, eagerly and in a tf.function."""
    config = dense_config(text)
    fused = build_dense_optimizer(config)
    for name, value in extra.items():
        setattr(fused, name, value)
    keras_cls = next(c for c in type(fused).__mro__ if c.__module__.startswith("keras."))
    plain = keras_cls.from_config(fused.get_config())
    assert type(fused) is not keras_cls and type(plain) is keras_cls
    rng = np.random.default_rng(0)
    start = [rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(3,)).astype("float32")]
    grads = [[rng.normal(size=v.shape).astype("float32") for v in start] for _ in range(5)]
    results = [_trained(fused, start, grads, traced), _trained(plain, start, grads, traced)]
    assert len(results[0]) == len(results[1])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    moved = [np.abs(a - s).max() for a, s in zip(results[0], start)]
    assert min(moved) > 1e-3, moved


def _trained(opt, start: list, grads: list, traced: bool) -> list[np.ndarray]:
    """The variables (from `start`) and slots of `opt` after a step per gradient pair of
    `grads` (the second cast to float16)."""
    variables = [keras.Variable(v) for v in start]
    opt.build(variables)  # as the trainer's state does, before the step is traced

    def step(g):
        opt.apply([g[0], tf.cast(g[1], tf.float16)], variables)

    run = tf.function(step, autograph=False) if traced else step
    for g in grads:
        run([tf.constant(x) for x in g])
    return [v.numpy() for v in variables + list(opt.variables)]
