"""PCGrad (Yu et al., NeurIPS 2020): project away conflicting task gradients."""

from __future__ import annotations

import tensorflow as tf

from easymtl.weighting.fixed import LossWeighting


def gram(task_grads: list[list[tf.Tensor]]) -> tf.Tensor:
    """The [K, K] dot products of the task gradients (each a list of tensors, one per
    variable)."""
    k = len(task_grads)
    dots = [[None] * k for _ in range(k)]
    for i in range(k):
        for j in range(i, k):
            dots[i][j] = dots[j][i] = tf.add_n(
                [tf.reduce_sum(a * b) for a, b in zip(task_grads[i], task_grads[j])]
            )
    return tf.stack([tf.stack(row) for row in dots])


def projection_coefficients(dots: tf.Tensor, orders: tf.Tensor) -> tf.Tensor:
    """[K, K] matrix A with ``projected g_i = sum_m A[i, m] g_m``.

    Task i's gradient is projected, taking the other tasks in the order of row i of
    `orders` (a [K, K] permutation per task), onto the normal plane of each original
    g_j it conflicts with: ``g_i -= min(g_i . g_j, 0) / |g_j|^2 g_j``. Every projection
    subtracts a multiple of an original gradient, so the dot products `dots` suffice.
    """
    k = dots.shape[0]
    rows = []
    for i in range(k):
        a = tf.one_hot(i, k, dtype=dots.dtype)
        for p in range(k):
            j = orders[i, p]
            conflict = tf.tensordot(a, dots[:, j], 1)
            step = tf.math.divide_no_nan(conflict, dots[j, j])
            step = tf.where((j != i) & (conflict < 0), step, tf.zeros_like(step))
            a -= step * tf.one_hot(j, k, dtype=dots.dtype)
        rows.append(a)
    return tf.stack(rows)


def project(task_grads: list[list[tf.Tensor]], orders: tf.Tensor) -> list[list[tf.Tensor]]:
    """Each task's projected gradient (see :func:`projection_coefficients`)."""
    a = projection_coefficients(gram(task_grads), orders)
    return [
        [tf.add_n([a[i, m] * gs[m] for m in range(len(gs))]) for gs in zip(*task_grads)]
        for i in range(len(task_grads))
    ]


class PCGrad(LossWeighting):
    """Projects conflicting task gradients of the shared variables, then sums them.

    Each step draws one random order of the other tasks per task, from `seed` and the
    step, so that every worker draws the same.

    Args:
        task_names: The tower names, in task order.
        weights: Each tower's weight, applied to its loss before projecting.
        seed: Seed of the orders.
    """

    task_gradients = True

    def __init__(self, task_names: list[str], weights: list[float], seed: int = 0):
        super().__init__(task_names, weights)
        self.seed = int(seed)

    def combine(self, task_grads, step) -> list[tf.Tensor]:
        k = self.num_tasks
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        orders = tf.argsort(tf.random.stateless_uniform([k, k], seed), axis=-1)
        coefficients = tf.reduce_sum(projection_coefficients(gram(task_grads), orders), 0)
        return [
            tf.add_n([coefficients[m] * g for m, g in enumerate(gs)]) for gs in zip(*task_grads)
        ]


def build_pcgrad(config, task_names, weights, where: str) -> PCGrad:
    """The PCGrad of a message checked by ``check_pcgrad``."""
    del config, where
    return PCGrad(task_names, weights)
