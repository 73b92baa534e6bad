"""Expressions of expr_feature and of the normalizer ``method=expression,expr=...``, as
TorchEasyRec's feature generator writes them (C-style operators, ``?:``, the built-in
functions and constants of its expression docs): parsed into a small tree without
TensorFlow, so that config validation finds a bad expression; the tree is computed by
:mod:`easymtl.features.expression_ops`.

Example:
    >>> parse("u_age == i_age ? 1 : 0").variables()
    ['u_age', 'i_age']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Functions of one value per row: name -> number of arguments (None: any, at least one).
_ONE_ARGUMENT = (
    "isnan", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
    "acosh", "atanh", "log2", "log10", "log", "ln", "exp", "sqrt", "sign", "abs", "rint",
    "floor", "ceil", "trunc", "round", "sigmoid",
)  # fmt: skip
SCALAR_FUNCTIONS = {
    **dict.fromkeys(_ONE_ARGUMENT, 1),
    "roundp": 2,
    "mod": 2,
    "sphere_dist": 4,
    "haversine": 4,
    "min": None,
    "max": None,
    "sum": None,
    "avg": None,
}
# Functions of a row's list of values (a variable's values), to one value.
_ONE_LIST = (
    "len", "l2_norm", "squared_norm", "std_dev", "pop_std_dev", "variance", "pop_variance",
    "reduce_min", "reduce_max", "reduce_sum", "reduce_mean", "reduce_prod",
)  # fmt: skip
VECTOR_FUNCTIONS = {**dict.fromkeys(_ONE_LIST, 1), "dot": 2, "euclid_dist": 2, "corr": 2}
CONSTANTS = {"_pi": 3.141592653589793, "_e": 2.718281828459045}
# Binary operators by precedence, loosest first (TorchEasyRec's table).
BINARY = [("||",), ("&&",), ("|",), ("&",), ("<=", ">=", "!=", "==", ">", "<"), ("+", "-"),
          ("*", "/")]  # fmt: skip
_TOKEN = re.compile(
    r"\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_]\w*)"
    r"|(\|\||&&|<=|>=|!=|==|[-+*/^<>|&!?:(),]))"
)


class ExpressionError(ValueError):
    """An expression that does not parse, or calls an unknown function."""


@dataclass(frozen=True)
class Node:
    """One node of an expression tree: ``kind`` is "number" (value), "variable" (name),
    "unary" (op, operand), "binary" (op, left, right), "if" (condition, then, else) or
    "call" (name, arguments)."""

    kind: str
    value: object = None
    args: tuple = ()

    def variables(self) -> list[str]:
        """The variables the expression reads, in first-use order."""
        names = [self.value] if self.kind == "variable" else []
        for a in self.args:
            names += a.variables()
        return list(dict.fromkeys(names))

    def vector_variables(self) -> list[str]:
        """The variables read as lists of values (arguments of the vector functions)."""
        names = []
        if self.kind == "call" and self.value in VECTOR_FUNCTIONS:
            names = [a.value for a in self.args if a.kind == "variable"]
        for a in self.args:
            names += a.vector_variables()
        return list(dict.fromkeys(names))


def parse(text: str) -> Node:
    """The tree of expression `text`.

    Raises:
        ExpressionError: it does not parse; the message says where.
    """
    tokens = _tokens(text)
    parser = _Parser(tokens, text)
    node = parser.ternary()
    if parser.peek() is not None:
        raise ExpressionError(f"unexpected {parser.peek()!r} in {text!r}")
    return node


def _tokens(text: str) -> list[str]:
    tokens, at = [], 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise ExpressionError(f"cannot read {text[at:].strip()[:10]!r} in {text!r}")
        tokens.append(next(g for g in match.groups() if g is not None))
        at = match.end()
    if not tokens:
        raise ExpressionError("the expression is empty")
    return tokens


class _Parser:
    """Recursive descent over the tokens, one method per precedence level."""

    def __init__(self, tokens: list[str], text: str):
        self.tokens, self.at, self.text = tokens, 0, text

    def peek(self):
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            what = f"{expected!r}" if expected else "more"
            raise ExpressionError(f"expected {what} in {self.text!r}, got {token!r}")
        self.at += 1
        return token

    def ternary(self) -> Node:
        condition = self.binary(0)
        if self.peek() != "?":
            return condition
        self.take("?")
        then = self.ternary()
        self.take(":")
        return Node("if", args=(condition, then, self.ternary()))

    def binary(self, level: int) -> Node:
        if level == len(BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in BINARY[level]:
            op = self.take()
            left = Node("binary", op, (left, self.binary(level + 1)))
        return left

    def unary(self) -> Node:
        if self.peek() in ("-", "+", "!"):
            op = self.take()
            return Node("unary", op, (self.unary(),))
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        if self.peek() == "^":
            self.take()
            return Node("binary", "^", (base, self.unary()))  # right-associative
        return base

    def primary(self) -> Node:
        token = self.take()
        if token == "(":
            node = self.ternary()
            self.take(")")
            return node
        if token[0].isdigit() or token[0] == ".":
            return Node("number", float(token))
        if not (token[0].isalpha() or token[0] == "_"):
            raise ExpressionError(f"unexpected {token!r} in {self.text!r}")
        if token in CONSTANTS:
            return Node("number", CONSTANTS[token])
        if self.peek() != "(":
            return Node("variable", token)
        return self.call(token)

    def call(self, name: str) -> Node:
        self.take("(")
        args = []
        if self.peek() != ")":
            args.append(self.ternary())
            while self.peek() == ",":
                self.take(",")
                args.append(self.ternary())
        self.take(")")
        if name == "rnd":
            raise ExpressionError(
                "rnd() draws anew on every call, so training and serving would differ; "
                "easymtl does not compute it"
            )
        arity = {**SCALAR_FUNCTIONS, **VECTOR_FUNCTIONS}.get(name, -1)
        if arity == -1:
            raise ExpressionError(f"unknown function {name!r} in {self.text!r}")
        if (arity is None and not args) or (arity is not None and len(args) != arity):
            want = "at least 1" if arity is None else str(arity)
            raise ExpressionError(f"{name}() takes {want} argument(s), got {len(args)}")
        if name in VECTOR_FUNCTIONS and any(a.kind != "variable" for a in args):
            raise ExpressionError(f"{name}() takes variables (lists of values) as arguments")
        return Node("call", name, tuple(args))
