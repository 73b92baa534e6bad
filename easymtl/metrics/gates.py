"""Gate diagnostics: how a mixture-of-experts gate spreads its weight over the experts.

MMoE-style gates can collapse onto one expert (the task then uses a single expert and the
mixture is wasted). Evaluation keeps a :class:`GateStats` per gate and reports, per gate,
``gate/<level>/<tower>/<expert>`` (the expert's mean weight) and
``gate/<level>/<tower>/entropy`` (the mean entropy of the gate's rows); a gate whose mean
weight on one expert is at least :data:`COLLAPSE_THRESHOLD` is logged as collapsed.
"""

from __future__ import annotations

import logging

import keras
import tensorflow as tf

log = logging.getLogger("easymtl")

COLLAPSE_THRESHOLD = 0.95


@keras.saving.register_keras_serializable(package="easymtl")
class GateStats(keras.metrics.Metric):
    """Over the rows seen, the mean weight a gate gives each expert and the mean entropy
    ``-sum_i w_i log w_i`` of its rows (natural log: a uniform gate over n experts has
    entropy log n, a gate on one expert 0). Sums are kept in float64.

    Args:
        experts: The names of the experts the gate weighs, in order.

    Example:
        >>> stats = GateStats(["expert_0", "expert_1"])
        >>> stats.update_state([[0.5, 0.5], [1.0, 0.0]])
        >>> {k: round(float(v), 4) for k, v in stats.result().items()}
        {'expert_0': 0.75, 'expert_1': 0.25, 'entropy': 0.3466}
    """

    def __init__(self, experts: list[str], name: str = "gate", **kwargs):
        super().__init__(name=name, **kwargs)
        if not experts:
            raise ValueError("`experts` must name at least one expert. Received: []")
        self.experts = list(experts)
        n = len(self.experts)
        self.weight_sum = self.add_variable((n,), "zeros", dtype="float64", name="weight_sum")
        self.entropy_sum = self.add_variable((), "zeros", dtype="float64", name="entropy_sum")
        self.count = self.add_variable((), "zeros", dtype="float64", name="count")

    def update_state(self, weights):
        """Adds a batch of gate weights [batch, num experts]."""
        w = tf.reshape(tf.cast(weights, tf.float64), [-1, len(self.experts)])
        self.weight_sum.assign_add(tf.reduce_sum(w, axis=0))
        self.entropy_sum.assign_add(-tf.reduce_sum(tf.math.xlogy(w, w)))
        self.count.assign_add(tf.cast(tf.shape(w)[0], tf.float64))

    def result(self) -> dict:
        """The mean weight of each expert, by name, and ``entropy``."""
        mean = tf.math.divide_no_nan(self.weight_sum.value, self.count.value)
        result = {name: tf.cast(mean[i], tf.float32) for i, name in enumerate(self.experts)}
        entropy = tf.math.divide_no_nan(self.entropy_sum.value, self.count.value)
        result["entropy"] = tf.cast(entropy, tf.float32)
        return result

    def get_config(self):
        return {**super().get_config(), "experts": self.experts}


def gate_results(gate: str, stats: GateStats) -> dict[str, float]:
    """``gate/<gate>/<expert>`` and ``gate/<gate>/entropy`` of a gate's stats."""
    return {f"gate/{gate}/{k}": float(v) for k, v in stats.result().items()}


def collapsed_expert(stats: GateStats) -> tuple[str, float] | None:
    """(expert, mean weight) where a gate of several experts puts at least
    :data:`COLLAPSE_THRESHOLD` of its mean weight on one expert, else None."""
    if len(stats.experts) < 2 or not float(stats.count.numpy()):
        return None
    result = stats.result()
    expert = max(stats.experts, key=lambda name: float(result[name]))
    weight = float(result[expert])
    return (expert, weight) if weight >= COLLAPSE_THRESHOLD else None


def warn_collapsed(gates: dict[str, GateStats]) -> list[str]:
    """Logs a warning for each collapsed gate; returns their names."""
    names = []
    for gate, stats in gates.items():
        found = collapsed_expert(stats)
        if found is None:
            continue
        expert, weight = found
        names.append(gate)
        log.warning(
            "gate %s puts %.3f of its weight on %s: it has collapsed onto one expert. "
            "To spread it, set the model's gate_temperature above 1 (e.g. 2) or "
            "gate_dropout_ratio (e.g. 0.1), or use fewer experts",
            gate,
            weight,
            expert,
        )
    return names
