"""The fused ranking score of ``model_config.fusion``: its layer and its evaluation.

``score = prod_k p_k ^ exponent_k  x  prod_j f_j(x_j)`` is a model output (so the
SavedModel serves it) and is scored on evaluation as ``auc_score_<label>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from easymtl.errors import ConfigError
from easymtl.losses import BINARY, REGRESSION
from easymtl.protos import data_pb2, fusion_pb2

SCORE = "score"
_NUMERIC = ("INT32", "INT64", "FLOAT", "DOUBLE")


def build_fused_score(fusion, task_types: dict[str, str]):
    """The :class:`~easymtl.layers.fusion.FusedScore` layer of a Fusion message, given
    the task type of each tower by name."""
    from easymtl.layers.fusion import FusedScore

    factors, clip = {}, []
    for tower in fusion.towers:
        kind = task_types[tower.tower_name]
        output = f"y_{tower.tower_name}" if kind == REGRESSION else f"probs_{tower.tower_name}"
        factors[output] = tower.exponent
        if kind == REGRESSION:
            clip.append(output)
    inputs = [
        {
            "input_name": i.input_name,
            "transform": fusion_pb2.FusionTransform.Name(i.transform).lower(),
            "power": i.power,
        }
        for i in fusion.inputs
    ]
    return FusedScore(factors, clip, inputs, name="fusion")


@dataclass
class ScoreEvaluation:
    """The evaluation of the fused score: its AUC against each label, reported as
    ``auc_score_<label>`` over every eval row.

    Args:
        label_names: The labels.
        thresholds: Buckets of each :class:`~easymtl.metrics.auc.ScoreAUC`.
    """

    label_names: list[str]
    thresholds: int = 20000

    @property
    def columns(self) -> list[str]:
        """The input fields it reads besides the features: the labels."""
        return list(self.label_names)

    def make_metrics(self) -> list:
        from easymtl.metrics.auc import ScoreAUC

        return [ScoreAUC(self.thresholds, name=f"auc_{SCORE}_{n}") for n in self.label_names]

    def update_metrics(self, metrics: list, labels: dict, outputs: dict) -> None:
        for label, metric in zip(self.label_names, metrics):
            metric.update_state(labels[label], outputs[SCORE])


def build_score_evaluation(model_config) -> ScoreEvaluation | None:
    """The ScoreEvaluation of model_config.fusion, or None without labels to score."""
    fusion = model_config.fusion
    if not model_config.HasField("fusion") or not fusion.label_names:
        return None
    return ScoreEvaluation(list(fusion.label_names), fusion.thresholds)


def check_fusion(model_config, data_config, task_types: dict[str, str]) -> None:
    """Raises ConfigError unless model_config.fusion fits the model and the data:
    binary or regression towers, numeric input fields, known labels.

    Args:
        task_types: The task type of each tower, by tower name.
    """
    if not model_config.HasField("fusion"):
        return
    fusion, where = model_config.fusion, "model_config.fusion"
    if not fusion.towers and not fusion.inputs:
        raise ConfigError(where, "name at least one tower (towers { tower_name: ... })")
    seen: set[str] = set()
    for i, tower in enumerate(fusion.towers):
        path = f"{where}.towers[{i}].tower_name"
        if tower.tower_name not in task_types:
            raise ConfigError(
                path,
                f"{tower.tower_name!r} is not a tower of the model ({', '.join(task_types)})",
            )
        if task_types[tower.tower_name] not in (BINARY, REGRESSION):
            raise ConfigError(
                path,
                f"tower {tower.tower_name!r} is {task_types[tower.tower_name]}; the score "
                "multiplies binary probabilities and regression values",
            )
        if tower.tower_name in seen:
            raise ConfigError(path, f"{tower.tower_name!r} is named twice")
        seen.add(tower.tower_name)
    fields = {f.input_name: f for f in data_config.input_fields}
    for i, spec in enumerate(fusion.inputs):
        path = f"{where}.inputs[{i}]"
        field = fields.get(spec.input_name)
        if field is None:
            raise ConfigError(
                f"{path}.input_name",
                f"{spec.input_name!r} is not one of data_config.input_fields",
            )
        kind = data_pb2.FieldType.Name(field.input_type)
        if kind not in _NUMERIC:
            raise ConfigError(
                f"{path}.input_name", f"{spec.input_name!r} is {kind}; expected a number field"
            )
        if spec.HasField("power") and spec.transform != fusion_pb2.POWER:
            raise ConfigError(f"{path}.power", "only used with transform: POWER")
    labels = set(data_config.label_fields)
    for i, label in enumerate(fusion.label_names):
        if label not in labels:
            raise ConfigError(
                f"{where}.label_names[{i}]",
                f"{label!r} is not one of data_config.label_fields ({', '.join(sorted(labels))})",
            )
        if f"{SCORE}_{label}" in task_types:
            raise ConfigError(
                f"{where}.label_names[{i}]",
                f"auc_{SCORE}_{label} would also name the AUC of tower {SCORE}_{label!s}",
            )
