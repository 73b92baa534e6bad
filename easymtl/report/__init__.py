"""model_dir/report.html: a picture of a run, for those who would rather look than read.

One self-contained HTML file (inline SVG charts and CSS; no script, nothing fetched, so it
opens offline and from any file server): for each tower its train and eval loss and its
eval metrics (AUC, ...) over the steps, the total loss, the loss weights where a
strategy moves them, each gate's mean expert weights over the evaluations, and the final
metrics. Written at the end of ``python -m easymtl.train`` (also ``--eval_only``) and of
``python -m easymtl.evaluate``, from what model_dir holds: the train run's TensorBoard
events, eval_history.jsonl (each evaluation on the newest evaluation's data) and
eval_result.json.
"""

from __future__ import annotations

import json
import logging
import os
import time
from html import escape

from easymtl.report.svg import bar_chart, line_chart

log = logging.getLogger("easymtl")

REPORT = "report.html"
# Numbers of an evaluation that are not metrics.
_NOT_METRICS = {
    "global_step", "num_examples", "run", "bad_rows_skipped", "train_bad_rows_skipped",
}  # fmt: skip


def write_report(model_dir: str) -> str | None:
    """Writes model_dir/report.html; returns its path (None, with a warning, if it
    cannot be written: a report never fails the run that made the model)."""
    from easymtl.disk import write_text
    from easymtl.errors import EasymtlError

    path = os.path.join(model_dir, REPORT)
    try:
        write_text(path, render(collect(model_dir)), "the run's report")
    except EasymtlError as e:
        log.warning("%s not written: %s", path, e)
        return None
    return path


def collect(model_dir: str) -> dict:
    """What the report shows, read from model_dir."""
    from easymtl import summary
    from easymtl.lifecycle import history

    result = _read_json(os.path.join(model_dir, "eval_result.json")) or {}
    entries = history.read(model_dir)
    data = entries[-1].get("eval_input_path") if entries else None
    # One evaluation per step: the newest (a re-score of a step replaces its point).
    by_step = {e.get("global_step"): e for e in entries if e.get("eval_input_path") == data}
    evaluations = [by_step[s] for s in sorted(by_step, key=lambda s: s or 0)]
    if not evaluations and result:
        evaluations = [result]
    train = summary.points(os.path.join(model_dir, "train"))
    return {
        "model_dir": model_dir,
        "model": _model_kind(model_dir),
        "eval_data": data,
        "train": {tag: sorted(steps.items()) for tag, steps in train.items()},
        "evaluations": evaluations,
        "result": result,
    }


def render(data: dict) -> str:
    """The report's HTML (see :func:`collect` for `data`)."""
    from easymtl.metrics import METRICS

    evaluations, train, result = data["evaluations"], data["train"], data["result"]
    keys = list(dict.fromkeys(k for e in evaluations for k in e))
    towers = [k[len("loss_") :] for k in keys if k.startswith("loss_")]
    towers += [t.split("/", 1)[1] for t in train if t.startswith("loss/")]
    towers = list(dict.fromkeys(towers))

    def curve(key: str) -> list[tuple[float, float]]:
        return [(e["global_step"], e[key]) for e in evaluations if _number(e.get(key))]

    metric_of = {f"{m}_{t}": t for m in METRICS.names() for t in towers}
    sections = []
    for tower in towers:
        losses = {"train": train.get(f"loss/{tower}", []), "eval": curve(f"loss_{tower}")}
        metrics = {k: curve(k) for k in keys if metric_of.get(k) == tower}
        charts = [line_chart(losses, f"{tower}: loss", f"loss-{tower}", "loss", dashed=("train",))]
        if metrics:
            charts.append(
                line_chart(
                    metrics,
                    f"{tower}: eval metrics",
                    f"metrics-{tower}",
                    empty="undefined (n/a) at every evaluation",
                )
            )
        sections.append(
            f'<section class="tower" data-tower="{escape(tower)}"><h3>tower '
            f"<code>{escape(tower)}</code></h3>{''.join(charts)}</section>"
        )
    total = {"train": train.get("loss", []), "eval": curve("loss")}
    overall = [line_chart(total, "total loss", "loss-total", "loss", dashed=("train",))]
    others = [
        k
        for k in keys
        if k not in metric_of
        and k not in _NOT_METRICS
        and not k.startswith(("loss", "gate/"))
        and any(_number(e.get(k)) for e in evaluations)
    ]
    if others:  # derived outputs (ESMM's ctcvr), the fused score
        overall.append(line_chart({k: curve(k) for k in others}, "other metrics", "metrics-other"))
    weights = {t.split("/", 1)[1]: v for t, v in train.items() if t.startswith("loss_weight/")}
    if any(len({round(v, 6) for _, v in line}) > 1 for line in weights.values()):
        overall.append(line_chart(weights, "loss weights", "loss-weights", "weight"))
    gates = list(dict.fromkeys(k.rsplit("/", 1)[0][5:] for k in keys if k.startswith("gate/")))
    gate_charts = []
    for gate in gates:
        experts = [k for k in keys if k.startswith(f"gate/{gate}/") and not k.endswith("/entropy")]
        lines = {k.rsplit("/", 1)[1]: curve(k) for k in experts}
        if len(evaluations) == 1:  # one evaluation: its weights as bars
            last = {name: line[-1][1] for name, line in lines.items() if line}
            title = f"gate {gate} at step {evaluations[0].get('global_step')}"
            gate_charts.append(bar_chart(last, title, f"gate-{gate}", "mean weight"))
        else:
            gate_charts.append(line_chart(lines, f"gate {gate}", f"gate-{gate}", "mean weight"))
    return _page(data, towers, sections, overall, gate_charts, result)


def _page(data, towers, sections, overall, gate_charts, result) -> str:
    step = result.get("global_step")
    facts = [
        ("model_dir", data["model_dir"]),
        ("model", data["model"] or "?"),
        ("towers", ", ".join(towers) or "none found"),
        ("last evaluated step", str(step) if step is not None else "none yet"),
        ("eval data", data["eval_data"] or "?"),
        ("evaluations", str(len(data["evaluations"]))),
        ("written", time.strftime("%Y-%m-%d %H:%M:%S")),
    ]
    head = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    body = [
        f"<h1>easymtl run: <code>{escape(data['model_dir'])}</code></h1>",
        f'<table class="facts">{head}</table>',
        "<h2>Towers</h2>",
        "<p>Each tower's loss (training, dashed: the mean over each logged stretch of "
        "steps; eval: each evaluation) and its eval metrics, over the global step.</p>",
        *(sections or ["<p>No tower found: no evaluation or training events yet.</p>"]),
        "<h2>Overall</h2>",
        *overall,
    ]
    if gate_charts:
        body += [
            "<h2>Gates</h2>",
            "<p>Each gate's mean weight on each of its experts, per evaluation (the "
            "<code>gate/…</code> values of eval_result.json); after a single evaluation, "
            "as bars.</p>",
            '<div class="gates">',
            *gate_charts,
            "</div>",
        ]
    body += ["<h2>Final metrics</h2>", _final(result)]
    return _TEMPLATE.format(
        title=escape(f"easymtl report: {data['model_dir']}"), body="\n".join(body)
    )


def _final(result: dict) -> str:
    if not result:
        return "<p>No evaluation yet (eval_result.json is missing).</p>"
    rows = [
        f"<tr><th>{escape(k)}</th><td>{_cell(v)}</td></tr>"
        for k, v in result.items()
        if not k.startswith("gate/")
    ]
    table = f'<table class="metrics" data-table="final">{"".join(rows)}</table>'
    gates = list(dict.fromkeys(k.rsplit("/", 1)[0][5:] for k in result if k.startswith("gate/")))
    if gates:
        lines = []
        for gate in gates:
            cells = [
                f"{escape(k.rsplit('/', 1)[1])} {v:.3f}"
                for k, v in result.items()
                if k.startswith(f"gate/{gate}/") and _number(v)
            ]
            lines.append(f"<tr><th>{escape(gate)}</th><td>{'  '.join(cells)}</td></tr>")
        table += f'<h3>Gates</h3><table class="metrics" data-table="gates">{"".join(lines)}</table>'
    return table


def _cell(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return escape(str(value))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _model_kind(model_dir: str) -> str | None:
    """The model's oneof name (``ple``), from the run's pipeline.config."""
    from google.protobuf import text_format

    from easymtl.protos import pipeline_pb2

    try:
        with open(os.path.join(model_dir, "pipeline.config"), encoding="utf-8") as f:
            config = text_format.Parse(f.read(), pipeline_pb2.PipelineConfig())
    except (OSError, text_format.ParseError):
        return None
    return config.model_config.WhichOneof("model")


_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1160px; }}
h1 {{ font-size: 20px; }} h2 {{ font-size: 17px; margin-top: 28px; }} h3 {{ font-size: 15px; }}
code {{ font-family: ui-monospace, monospace; }}
table {{ border-collapse: collapse; margin: 8px 0; }}
th, td {{ text-align: left; padding: 2px 12px 2px 0; vertical-align: top; }}
th {{ font-weight: 600; color: #444; }}
table.metrics td {{ font-family: ui-monospace, monospace; }}
section.tower {{ display: inline-block; vertical-align: top; margin-right: 16px; }}
svg.chart {{ display: inline-block; margin: 4px 8px 4px 0; background: #fff; }}
svg .title {{ font-size: 13px; font-weight: 600; }}
svg .tick, svg .legend, svg .axis-name {{ font-size: 11px; fill: #333; }}
svg .grid {{ stroke: #e4e4e4; }} svg .axis {{ stroke: #888; }}
svg .empty {{ font-size: 12px; fill: #888; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
