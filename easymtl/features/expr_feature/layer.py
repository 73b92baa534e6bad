"""Expressions over input columns → a number per row."""

from __future__ import annotations

import keras
import tensorflow as tf

from easymtl.features.base import BuiltFeature, one_feature
from easymtl.features.expr_feature import variable_names
from easymtl.features.expression import parse
from easymtl.features.expression_ops import evaluate
from easymtl.features.raw_feature.layer import RawFeature, to_number
from easymtl.features.sequence_items import sequence_items


@keras.saving.register_keras_serializable(package="easymtl")
class ExprFeature(keras.layers.Layer):
    """The value of an expression over some input columns, per row, as TorchEasyRec's
    expr_feature computes it (see :mod:`easymtl.features.expression` for the language).

    Each variable reads one column: its cells' numbers joined by `separator` (or a list
    column). A variable that the vector functions read (``len(x)``, ``dot(x, y)``, ...)
    is the row's list of numbers; any other is the row's one number (a cell holding
    several is a bad row in training data, see :meth:`cell_checks`). An empty (or not
    numeric) cell takes `fill_missing` where given; else the row's value is
    `default_value`, as is a value that is not finite (``log(0)``, ``1 / 0``).

    Args:
        expression: The expression.
        variables: The names the expression uses, one per input column, in call order.
        separator: Separator of the numbers of a cell.
        fill_missing: The number of an empty cell, or None.
        default_value: The value of a row that has none.
        boundaries: Sorted bucket boundaries; without them the value stays dense.

    Call takes a list of [batch] columns (one per variable) and returns [batch, 1]
    floats, or with `boundaries` ragged bucket ids [batch, (1)].

    Example:
        >>> f = ExprFeature("a >= b ? 1 : 0", ["a", "b"])
        >>> f([tf.constant(["3", "1"]), tf.constant(["2", "2"])]).numpy()
        array([[1.], [0.]], dtype=float32)
    """

    def __init__(
        self,
        expression: str,
        variables: list[str],
        separator: str = "\x1d",
        fill_missing: float | None = None,
        default_value: float = 0.0,
        boundaries: list[float] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.node = parse(expression)
        unknown = [v for v in self.node.variables() if v not in variables]
        if unknown:
            raise ValueError(f"`expression` reads {unknown}, not in `variables` {variables}.")
        if not separator:
            raise ValueError("`separator` must not be empty.")
        self.expression = expression
        self.variable_names = list(variables)
        self.separator = separator
        self.fill_missing = None if fill_missing is None else float(fill_missing)
        self.values = RawFeature(boundaries=boundaries, default_value=default_value, name="values")
        self.lists = tuple(self.node.vector_variables())

    @property
    def num_ids(self) -> int | None:
        """Rows of the embedding table (with boundaries), else None (a dense value)."""
        return self.values.num_ids

    def build(self, input_shape=None):
        self.values.build(None)

    def _numbers(self, x) -> tf.RaggedTensor:
        """Ragged [batch, (numbers)] of a column: its cells' numbers, the rest dropped."""
        items = sequence_items(x, self.separator)
        values = items.flat_values
        values = to_number(values) if values.dtype == tf.string else tf.cast(values, tf.float32)
        keep = items.with_flat_values(~tf.math.is_nan(values))
        return tf.ragged.boolean_mask(items.with_flat_values(values), keep)

    def call(self, inputs):
        scalars, vectors = {}, {}
        missing = tf.zeros(tf.shape(inputs[0])[:1], tf.bool)
        for name, column in zip(self.variable_names, inputs):
            numbers = self._numbers(column)
            if name in self.lists:
                vectors[name] = numbers
                continue
            empty = numbers.row_lengths() == 0
            first = numbers.to_tensor(float("nan"), shape=[None, 1])[:, 0]
            if self.fill_missing is not None:
                first = tf.where(empty, self.fill_missing, first)
            else:
                missing |= empty
            scalars[name] = first
        value = evaluate(self.node, scalars, vectors)
        value = tf.broadcast_to(value, tf.shape(missing))
        return self.values(tf.where(missing, float("nan"), value))

    def cell_checks(self) -> list[tuple[int, object, str]]:
        """Checks of the raw cells in training data, as ``(input index, fn(cells) ->
        [batch] bool, what is wrong)``: a variable read as one number holds at most one."""
        checks = []
        for i, name in enumerate(self.variable_names):
            if name in self.lists:
                continue

            def bad(x):
                return self._numbers(x).row_lengths() > 1

            what = (
                f"holds several numbers, but expr_feature {self.name!r} reads {name!r} as "
                "one (read a list with len(), dot(), reduce_sum(), ...)"
            )
            checks.append((i, bad, what))
        return checks

    def get_config(self):
        return {
            **super().get_config(),
            "expression": self.expression,
            "variables": self.variable_names,
            "separator": self.separator,
            "fill_missing": self.fill_missing,
            "default_value": self.values.default_value,
            "boundaries": self.values.boundaries,
        }


def build_expr_feature(f, feature_configs=None) -> list[BuiltFeature]:
    """The layer of an ExprFeature message: embedded with boundaries, else dense."""
    names = variable_names(f)
    layer = ExprFeature(
        expression=f.expression,
        variables=names,
        separator=f.separator,
        fill_missing=f.fill_missing if f.HasField("fill_missing") else None,
        default_value=float(f.default_value),
        boundaries=list(f.boundaries),
        name=f.feature_name,
    )
    dim = f.embedding_dim if f.boundaries else None
    return one_feature(f, layer, dim, columns=names)
