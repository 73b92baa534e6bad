"""The metric that decides which evaluation is best: one eval_result.json key or a
weighted sum of them (export_config.best_exporter_metric)."""

from __future__ import annotations

import math
import re

from easymtl.errors import ConfigError

FIELD = "export_config.best_exporter_metric"
_NUMBER = r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
_TERM = re.compile(
    rf"^\s*(?:(?P<pre>{_NUMBER})\s*\*\s*)?(?P<name>[A-Za-z_][\w/]*)(?:\s*\*\s*(?P<post>{_NUMBER}))?\s*$"
)


class BestMetric:
    """A weighted sum of evaluation results, and which of two values is better.

    Args:
        expression: A result name ("auc_cvr") or a sum of weighted names
            ("0.3 * auc_ctr + 0.7 * auc_cvr"; a term may be subtracted).
        larger_is_better: Whether a larger value is better.

    Raises:
        ConfigError: `expression` is not of that form.
    """

    def __init__(self, expression: str, larger_is_better: bool = True):
        self.expression = expression
        self.larger_is_better = larger_is_better
        self.terms: list[tuple[float, str]] = []
        text = expression.strip()
        if not text:
            raise ConfigError(FIELD, "empty; expected a metric such as 'auc_cvr'")
        # Split at the signs between terms (not an exponent's, as in 1e-3).
        parts = re.split(r"(?<!\d[eE])([+-])", text)
        parts = parts[1:] if parts[0].strip() == "" else ["+", *parts]
        for op, term in zip(parts[::2], parts[1::2]):
            sign = -1.0 if op == "-" else 1.0
            match = _TERM.match(term)
            if not match or (match["pre"] and match["post"]):
                raise ConfigError(
                    FIELD,
                    f"{expression!r}: cannot read {term.strip()!r}; expected a metric name such "
                    "as 'auc_cvr' or a weighted sum such as '0.3 * auc_ctr + 0.7 * auc_cvr'",
                )
            weight = float(match["pre"] or match["post"] or 1.0)
            self.terms.append((sign * weight, match["name"]))

    @property
    def names(self) -> list[str]:
        return [name for _, name in self.terms]

    def value(self, results: dict) -> float | None:
        """The metric of `results`; None if a term is missing, null or NaN."""
        total = 0.0
        for weight, name in self.terms:
            v = results.get(name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or math.isnan(v):
                return None
            total += weight * v
        return total

    def better(self, value: float | None, best: float | None) -> bool:
        """Whether `value` is better than `best` (None: no best yet). A None value is
        never better; a tie is not better."""
        if value is None:
            return False
        if best is None:
            return True
        return value > best if self.larger_is_better else value < best

    def __str__(self) -> str:
        return self.expression
