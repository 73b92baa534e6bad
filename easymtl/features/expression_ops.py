"""Computes an expression tree (:mod:`easymtl.features.expression`) with TensorFlow ops,
one value per row."""

from __future__ import annotations

import math

import tensorflow as tf

from easymtl.features.expression import Node

_UNARY = {
    "isnan": lambda x: tf.cast(tf.math.is_nan(x), x.dtype),
    "sin": tf.sin, "cos": tf.cos, "tan": tf.tan, "asin": tf.asin, "acos": tf.acos,
    "atan": tf.atan, "sinh": tf.sinh, "cosh": tf.cosh, "tanh": tf.tanh, "asinh": tf.asinh,
    "acosh": tf.acosh, "atanh": tf.atanh,
    "log2": lambda x: tf.math.log(x) / math.log(2.0),
    "log10": lambda x: tf.math.log(x) / math.log(10.0),
    "log": tf.math.log, "ln": tf.math.log, "exp": tf.exp, "sqrt": tf.sqrt, "sign": tf.sign,
    "abs": tf.abs, "rint": tf.math.rint, "floor": tf.floor, "ceil": tf.math.ceil,
    "trunc": lambda x: tf.sign(x) * tf.floor(tf.abs(x)),
    "round": lambda x: tf.sign(x) * tf.floor(tf.abs(x) + 0.5),  # half away from zero
    "sigmoid": tf.sigmoid,
}  # fmt: skip
_BINARY = {
    "+": tf.add, "-": tf.subtract, "*": tf.multiply, "/": tf.divide, "^": tf.pow,
    "<": tf.less, ">": tf.greater, "<=": tf.less_equal, ">=": tf.greater_equal,
    "==": tf.equal, "!=": tf.not_equal,
}  # fmt: skip
_EARTH_KM = 6371.0


def evaluate(node: Node, scalars: dict, vectors: dict | None = None) -> tf.Tensor:
    """The value of expression `node` per row, [batch] float32.

    Args:
        node: The expression tree.
        scalars: [batch] float32 values of the variables read as one value.
        vectors: Ragged [batch, (values)] float32 of the variables read as lists.
    """
    vectors = vectors or {}
    if node.kind == "number":
        return tf.constant(node.value, tf.float32)
    if node.kind == "variable":
        return scalars[node.value]
    args = node.args
    if node.kind == "if":
        condition, then, other = (evaluate(a, scalars, vectors) for a in args)
        return tf.where(tf.not_equal(condition, 0.0), then, other)
    if node.kind == "unary":
        x = evaluate(args[0], scalars, vectors)
        if node.value == "-":
            return -x
        return tf.cast(tf.equal(x, 0.0), tf.float32) if node.value == "!" else x
    if node.kind == "binary":
        return _binary(node.value, *(evaluate(a, scalars, vectors) for a in args))
    if node.value in _VECTOR:
        return _VECTOR[node.value](*(vectors[a.value] for a in args))
    return _call(node.value, [evaluate(a, scalars, vectors) for a in args])


def _binary(op: str, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    if op in ("||", "&&"):
        a, b = tf.not_equal(a, 0.0), tf.not_equal(b, 0.0)
        return tf.cast(tf.logical_or(a, b) if op == "||" else tf.logical_and(a, b), tf.float32)
    if op in ("|", "&"):
        a, b = tf.cast(a, tf.int64), tf.cast(b, tf.int64)
        return tf.cast(tf.bitwise.bitwise_or(a, b) if op == "|" else tf.bitwise.bitwise_and(a, b),
                       tf.float32)  # fmt: skip
    return tf.cast(_BINARY[op](a, b), tf.float32)


def _call(name: str, args: list) -> tf.Tensor:
    if name in _UNARY:
        return _UNARY[name](args[0])
    if name == "roundp":
        scale = tf.pow(10.0, args[1])
        return _UNARY["round"](args[0] * scale) / scale
    if name == "mod":
        # C's fmod: the remainder takes the dividend's sign.
        return args[0] - args[1] * _UNARY["trunc"](args[0] / args[1])
    if name in ("sphere_dist", "haversine"):
        return _distance(name, *args)
    shape = tf.shape(sum(args[1:], args[0]))
    stacked = tf.stack([tf.broadcast_to(a, shape) for a in args])
    reduce = {"min": tf.reduce_min, "max": tf.reduce_max, "sum": tf.reduce_sum,
              "avg": tf.reduce_mean}[name]  # fmt: skip
    return reduce(stacked, axis=0)


def _distance(name: str, lng1, lat1, lng2, lat2) -> tf.Tensor:
    """Kilometres between two points given in degrees, on a sphere of the earth's radius:
    the spherical law of cosines (sphere_dist) or the haversine formula."""
    rad = math.pi / 180.0
    lng1, lat1, lng2, lat2 = (x * rad for x in (lng1, lat1, lng2, lat2))
    if name == "sphere_dist":
        cos = tf.sin(lat1) * tf.sin(lat2) + tf.cos(lat1) * tf.cos(lat2) * tf.cos(lng1 - lng2)
        return _EARTH_KM * tf.acos(tf.clip_by_value(cos, -1.0, 1.0))
    h = (
        tf.sin((lat2 - lat1) / 2) ** 2
        + tf.cos(lat1) * tf.cos(lat2) * tf.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * _EARTH_KM * tf.asin(tf.sqrt(tf.clip_by_value(h, 0.0, 1.0)))


def _count(x: tf.RaggedTensor) -> tf.Tensor:
    return tf.cast(x.row_lengths(), tf.float32)


def _mean(x: tf.RaggedTensor) -> tf.Tensor:
    return tf.math.divide_no_nan(tf.reduce_sum(x, axis=1), _count(x))


def _variance(x: tf.RaggedTensor, ddof: int) -> tf.Tensor:
    centred = x - _mean(x)[:, None]
    return tf.math.divide_no_nan(tf.reduce_sum(centred * centred, axis=1), _count(x) - ddof)


def _dot(a: tf.RaggedTensor, b: tf.RaggedTensor) -> tf.Tensor:
    return tf.reduce_sum(a.to_tensor() * _like(b, a), axis=1)


def _like(b: tf.RaggedTensor, a: tf.RaggedTensor) -> tf.Tensor:
    """`b` padded (with zeros) or cut to `a`'s dense width."""
    width = tf.shape(a.to_tensor())[1]
    b = b.to_tensor()[:, :width]
    return tf.pad(b, [[0, 0], [0, width - tf.shape(b)[1]]])


def _corr(a: tf.RaggedTensor, b: tf.RaggedTensor) -> tf.Tensor:
    ca = a - _mean(a)[:, None]
    cb = b - _mean(b)[:, None]
    cov = _dot(ca, cb)
    return tf.math.divide_no_nan(cov, tf.sqrt(_dot(ca, ca) * _dot(cb, cb)))


_VECTOR = {
    "len": _count,
    "l2_norm": lambda x: tf.sqrt(tf.reduce_sum(x * x, axis=1)),
    "squared_norm": lambda x: tf.reduce_sum(x * x, axis=1),
    "dot": _dot,
    "euclid_dist": lambda a, b: tf.sqrt(tf.reduce_sum(tf.square(a.to_tensor() - _like(b, a)), 1)),
    "corr": _corr,
    # TorchEasyRec's table: std_dev and variance divide by n, the pop_ ones by n - 1.
    "std_dev": lambda x: tf.sqrt(_variance(x, 0)),
    "pop_std_dev": lambda x: tf.sqrt(_variance(x, 1)),
    "variance": lambda x: _variance(x, 0),
    "pop_variance": lambda x: _variance(x, 1),
    "reduce_min": lambda x: tf.where(_count(x) > 0, tf.reduce_min(x, axis=1), 0.0),
    "reduce_max": lambda x: tf.where(_count(x) > 0, tf.reduce_max(x, axis=1), 0.0),
    "reduce_sum": lambda x: tf.reduce_sum(x, axis=1),
    "reduce_mean": _mean,
    "reduce_prod": lambda x: tf.reduce_prod(x, axis=1),
}
