"""The comparison as a bar chart: each architecture's difference from the single-task
model per column, with the noise bound as error bars. Needs matplotlib
(``pip install 'easymtl[report]'``)."""

from __future__ import annotations

from easymtl.compare.table import Table
from easymtl.errors import EasymtlError

_COLORS = {1: "tab:green", -1: "tab:red", 0: "tab:gray"}


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend.

    Raises:
        EasymtlError: matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        raise EasymtlError(
            "matplotlib is not installed; pip install 'easymtl[report]' to draw charts"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_chart(table: Table, path: str, title: str = "") -> None:
    """Writes the MTL-gain bar chart of `table` to `path` (PNG): one panel per column,
    one bar per architecture (green: better beyond noise, red: worse, gray: neither),
    error bars ± the noise bound.

    Raises:
        EasymtlError: matplotlib is not installed.
    """
    plt = pyplot()
    rows = table.rows[1:]
    n = len(table.columns)
    fig, axes = plt.subplots(1, n, figsize=(1.0 + 0.9 * max(3, len(rows)) * n, 3.6), squeeze=False)
    for ax, column in zip(axes[0], table.columns):
        cells = [table.cells.get((r, column)) for r in rows]
        diffs = [c.diff if c is not None and c.diff is not None else 0.0 for c in cells]
        noise = [c.noise if c is not None and c.noise is not None else 0.0 for c in cells]
        colors = [_COLORS[c.better if c is not None else 0] for c in cells]
        ax.bar(range(len(rows)), diffs, yerr=noise, color=colors, capsize=3)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([table.labels.get(r, r) for r in rows], rotation=30, ha="right")
        ax.set_title(f"{column}\n(diff. from {table.baseline})", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
