"""The comparison table: mean ± std over seeds, the MTL gain over the single-task model,
and the seesaw flag.

Noise: a difference Δ = mean(architecture) − mean(single task) of one column is *beyond
noise* when |Δ| > 2 · sqrt(s_a² / n_a + s_b² / n_b), twice its standard error (s: the
sample standard deviations over seeds, n: the numbers of seeds), and |Δ| > 0.0001, the
table's precision (seeds that agree to the last digit make the standard error 0). With
fewer than two seeds on either side the noise is unknown and no difference is called. A row is a
*seesaw* when, on each tower's first column, one tower is better beyond noise and another
worse beyond noise.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

# Columns whose smaller values are better (the rest: larger is better).
LOWER_IS_BETTER = ("loss_", "mean_squared_error_", "mean_absolute_error_")
NOISE_SE = 2.0
# Differences at or below this (the printed precision) are never called.
MIN_DIFF = 1e-4


@dataclass
class Cell:
    """One row's values of one column over seeds, and their difference from the baseline.

    Args:
        values: One value per seed.
        diff: mean − the baseline row's mean (None in the baseline row or without one).
        noise: The bound beyond which `diff` is not noise (None where unknown).
        better: +1 better beyond noise, −1 worse beyond noise, 0 neither.
    """

    values: list[float]
    diff: float | None = None
    noise: float | None = None
    better: int = 0

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return sum(self.values) / len(self.values)

    @property
    def std(self) -> float | None:
        """Sample standard deviation (n − 1 in the denominator); None for one value."""
        if self.n < 2:
            return None
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (self.n - 1))


@dataclass
class Table:
    """The comparison: rows (architectures) × columns (``<metric>_<tower>``).

    Args:
        rows: Row names, baseline first.
        columns: Column names.
        cells: (row, column) → Cell, where the row has that column.
        baseline: The row differences are taken from.
        towers: tower → its columns; a tower's first column decides the seesaw.
        seesaw: row → True (seesaw), False (none), None (unknown: noise not known).
    """

    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], Cell]
    baseline: str
    towers: dict[str, list[str]] = field(default_factory=dict)
    seesaw: dict[str, bool | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


def lower_is_better(column: str) -> bool:
    return column.startswith(LOWER_IS_BETTER)


def build_table(
    values: dict[str, dict[str, list[float]]],
    baseline: str,
    towers: dict[str, list[str]],
    labels: dict[str, str] | None = None,
) -> Table:
    """The table of `values`: row → column → one value per seed.

    Args:
        values: The measured values.
        baseline: The row that the others are compared with (the single-task row).
        towers: tower → its columns, in column order.
        labels: Row display names, where not the row name.
    """
    columns = [c for cs in towers.values() for c in cs]
    rows = [baseline] + [r for r in values if r != baseline]
    cells = {(r, c): Cell(list(vs)) for r, cols in values.items() for c, vs in cols.items() if vs}
    table = Table(rows, columns, cells, baseline, dict(towers), {}, dict(labels or {}))
    for row in rows[1:]:
        for column in columns:
            cell, base = cells.get((row, column)), cells.get((baseline, column))
            if cell is None or base is None:
                continue
            cell.diff = cell.mean - base.mean
            if cell.std is not None and base.std is not None:
                se = math.sqrt(cell.std**2 / cell.n + base.std**2 / base.n)
                cell.noise = max(NOISE_SE * se, MIN_DIFF)
                if abs(cell.diff) > cell.noise:
                    sign = 1 if cell.diff > 0 else -1
                    cell.better = -sign if lower_is_better(column) else sign
        table.seesaw[row] = _seesaw(table, row)
    return table


def _seesaw(table: Table, row: str) -> bool | None:
    firsts = [table.cells.get((row, cs[0])) for cs in table.towers.values() if cs]
    firsts = [c for c in firsts if c is not None and c.diff is not None]
    if any(c.noise is None for c in firsts) or len(firsts) < 2:
        return None
    moves = {c.better for c in firsts}
    return 1 in moves and -1 in moves


def _number(x: float) -> str:
    return f"{x:.4f}"


def format_cell(cell: Cell | None) -> str:
    """``0.7012 ± 0.0031 (+0.0040 ▲)``: mean ± std (difference, ▲ better / ▼ worse
    beyond noise); "—" for a missing cell."""
    if cell is None:
        return "—"
    text = _number(cell.mean) + (f" ± {_number(cell.std)}" if cell.std is not None else "")
    if cell.diff is not None:
        mark = {1: " ▲", -1: " ▼", 0: ""}[cell.better]
        text += f" ({cell.diff:+.4f}{mark})"
    return text


def to_markdown(table: Table) -> str:
    """The table as Markdown, with a Seesaw column."""
    header = ["architecture", *table.columns, "seesaw"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.rows:
        seesaw = "" if row == table.baseline else _seesaw_text(table.seesaw.get(row))
        cells = [format_cell(table.cells.get((row, c))) for c in table.columns]
        lines.append("| " + " | ".join([table.labels.get(row, row), *cells, seesaw]) + " |")
    return "\n".join(lines) + "\n"


def _seesaw_text(seesaw: bool | None) -> str:
    return {True: "**yes**", False: "no", None: "n/a"}[seesaw]


def to_csv(table: Table) -> str:
    """One line per row: for each column its mean, std, n, diff, noise and better."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    parts = ("mean", "std", "n", "diff", "noise", "better")
    writer.writerow(["architecture", *(f"{c}_{p}" for c in table.columns for p in parts), "seesaw"])
    for row in table.rows:
        line = [row]
        for column in table.columns:
            cell = table.cells.get((row, column))
            if cell is None:
                line += [""] * len(parts)
                continue
            line += [cell.mean, cell.std, cell.n, cell.diff, cell.noise, cell.better]
        seesaw = table.seesaw.get(row)
        line.append("" if seesaw is None else int(seesaw))
        writer.writerow(["" if v is None else v for v in line])
    return out.getvalue()
