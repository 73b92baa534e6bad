"""The feature-importance output of variational dropout (model_config.variational_dropout):
at the end of training, each group's learned dropout ratios are written to
``model_dir/feature_dropout_ratio_<group>.csv`` (``feature_name,mean_drop_p``, as
TorchEasyRec's ``tzrec.tools.feature_selection`` writes them), sorted from the lowest
ratio (the part the tasks need most) up, and the group's most and least needed parts are
logged."""

from __future__ import annotations

import csv
import io
import logging
import os

from easymtl.callbacks import Callback
from easymtl.disk import write_text

log = logging.getLogger("easymtl")


def dropout_ratios(model) -> dict[str, dict[str, float]]:
    """``{group: {part: dropout ratio}}`` of the model's variational dropouts."""
    dropouts = getattr(model.features, "group_dropouts", {})
    return {group: layer.dropout_ratios() for group, layer in dropouts.items()}


def write_dropout_ratios(model, model_dir: str) -> list[str]:
    """Writes each group's ratios as a CSV in `model_dir`; returns the paths."""
    paths = []
    for group, ratios in dropout_ratios(model).items():
        rows = sorted(ratios.items(), key=lambda kv: kv[1])
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["feature_name", "mean_drop_p"])
        writer.writerows([name, f"{value:.6f}"] for name, value in rows)
        path = os.path.join(model_dir, f"feature_dropout_ratio_{group}.csv")
        write_text(path, out.getvalue(), "feature dropout ratios")
        paths.append(path)
        log.info(
            "variational dropout, group %s: most needed %s; least needed %s (%s)",
            group,
            ", ".join(f"{n} {v:.3f}" for n, v in rows[:3]),
            ", ".join(f"{n} {v:.3f}" for n, v in rows[-3:][::-1]),
            path,
        )
    return paths


class FeatureSelection(Callback):
    """Writes the dropout ratios when training ends (on the chief)."""

    def after_train(self, step: int) -> None:
        if self.runner.cluster.is_chief:
            write_dropout_ratios(self.runner.model, self.runner.model_dir)


def feature_selection_callbacks(model_config) -> list[Callback]:
    """The :class:`FeatureSelection` callback with variational dropout, else none."""
    return [FeatureSelection()] if model_config.HasField("variational_dropout") else []
