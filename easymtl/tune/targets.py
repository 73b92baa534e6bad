"""The values a config's evaluation reports, so a study's metric is checked before any
trial runs."""

from __future__ import annotations

from google.protobuf.message import Message

from easymtl.errors import EasymtlError


def eval_metric_names(config: Message) -> list[str]:
    """The numbers eval_result.json holds for `config`: each tower's metrics
    (``<metric>_<tower>``) and loss (``loss_<tower>``), the total ``loss`` and the fused
    score's AUCs."""
    from easymtl.lifecycle import result_names

    return result_names(config.model_config)


def check_metric(config: Message, metric: str, config_path: str) -> None:
    """Raises EasymtlError unless evaluating `config` reports `metric`."""
    if not config.eval_input_path:
        raise EasymtlError(f"{config_path}: eval_input_path: needed to score each trial")
    names = eval_metric_names(config)
    if metric not in names:
        raise EasymtlError(
            f"--metric: {config_path} reports no {metric!r} (metrics: {', '.join(names)})"
        )
