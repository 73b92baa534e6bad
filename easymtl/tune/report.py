"""What a study leaves: the trials table (CSV and markdown), a chart of the metric per
trial with the best so far, and the best trial's config as a normal .config."""

from __future__ import annotations

import csv
import io
import json

from google.protobuf import text_format
from google.protobuf.message import Message

from easymtl.errors import EasymtlError
from easymtl.tune.study import retries


def trial_rows(study, short: bool = True) -> tuple[list[str], list[list[str]]]:
    """The header and one row per trial of `study`: number, state, the metric, each
    searched field's value, seconds and the error of a failed trial.

    Args:
        study: An Optuna study of :mod:`easymtl.tune.study`.
        short: Round values to 4 (metric) and 6 (fields) significant digits, else
            write them in full (for the CSV).
    """
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    metric = study.user_attrs["metric"]
    params = list(dict.fromkeys(name for t in trials for name in t.params))
    header = ["trial", "state", metric, *params, "seconds", "error"]
    rerun = retries(study)
    rows = []
    for t in trials:
        error = t.user_attrs.get("error", "")
        if t.number in rerun:
            error = f"its tuner stopped (no heartbeat); rerun as trial {rerun[t.number]}"
        value = "" if t.value is None else f"{t.value:.4f}" if short else repr(t.value)
        rows.append(
            [
                str(t.number),
                t.state.name.lower(),
                value,
                *(_cell(t.params[p], short) if p in t.params else "" for p in params),
                str(t.user_attrs.get("seconds", "")),
                error,
            ]
        )
    return header, rows


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def to_markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_chart(study, path: str) -> None:
    """Writes the study's chart to `path` (PNG): each complete trial's metric, the best
    so far as a step line, failed trials as red crosses on the axis.

    Raises:
        EasymtlError: matplotlib is not installed.
    """
    from optuna.trial import TrialState

    from easymtl.compare.chart import pyplot

    plt = pyplot()
    metric = study.user_attrs["metric"]
    maximize = study.direction.name == "MAXIMIZE"
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = [t.number for t in trials if t.state == TrialState.FAIL]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    xs, ys = [t.number for t in done], [t.value for t in done]
    ax.plot(xs, ys, "o", color="tab:blue", label=metric)
    best, best_ys = None, []
    for y in ys:
        best = y if best is None or (y > best if maximize else y < best) else best
        best_ys.append(best)
    if xs:
        ax.step(xs, best_ys, where="post", color="tab:orange", label="best so far")
    if failed:
        bottom = min(ys) if ys else 0.0
        ax.plot(failed, [bottom] * len(failed), "x", color="tab:red", label="failed")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title(f"{study.study_name}: {metric} ({'max' if maximize else 'min'}imize)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def best_config(study, config: Message, model_dir: str) -> str:
    """The best trial's config as protobuf text: `config` (the tuned config as its file
    has it) with the trial's searched values and `model_dir`. The tuner's own edits that
    every trial ran with (a smaller budget such as ``--train_config.num_steps=200``, other
    data) are left out, so that the config trains with its own budget and data; its
    header lists them.

    Raises:
        EasymtlError: the study has no complete trial.
    """
    from easymtl.config import validate
    from easymtl.overrides import apply_overrides

    try:
        best = study.best_trial
    except ValueError:
        raise EasymtlError(
            f"study {study.study_name!r} has no complete trial: see the errors in the table"
        ) from None
    edits = json.loads(best.user_attrs["edits"])
    searched = {path: value for path, value in edits.items() if path in best.params}
    left_out = {path: value for path, value in edits.items() if path not in best.params}
    best_config = type(config)()
    best_config.CopyFrom(config)
    apply_overrides(best_config, searched, f"trial {best.number}")
    best_config.model_dir = model_dir
    validate(best_config)
    metric = study.user_attrs["metric"]
    head = [
        f"# Best of study {study.study_name!r}: trial {best.number}, {metric} {best.value:.4f}",
        f"# (trained in {best.user_attrs['model_dir']}). Its searched values:",
        *(f"#   {path}: {_cell(value)}" for path, value in best.params.items()),
    ]
    if left_out:
        head += [
            "# Every trial also ran with these edits of the tuner's command line, left out",
            "# here (this config trains with its own budget and data; add them back as",
            "# flags of python -m easymtl.train to repeat the trial):",
            *(f"#   {path}: {_cell(value)}" for path, value in left_out.items()),
        ]
    return "\n".join(head) + "\n" + text_format.MessageToString(best_config)


def _cell(value: object, short: bool = True) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if short else repr(value)
    return value if isinstance(value, str) else json.dumps(value)
