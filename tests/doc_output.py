"""What the docs show a command print, compared with what it prints.

A page's ```bash block directly followed by a ```text block (nothing but blank lines
between) shows that command's output. Its easymtl lines (log lines, `error:` lines, the
summaries predict and export print) must be printed with the same words; numbers, times,
durations and absolute paths may differ (another machine, another day), so both sides are
compared by :func:`shape`. A shown line with `…` in it was cut by the page and is skipped,
and so are progress lines, printed every so many seconds; lines the page leaves out (gate
lines, TensorFlow's chatter) are not looked for.
"""

from __future__ import annotations

import re

_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
# easymtl's own lines (and saved_model_cli's results); TensorFlow's chatter varies.
OURS = re.compile(
    r"^(\S+ \S+ (\[[\w ]+\] )?(INFO|WARNING|ERROR) |error: |predicted |exported to "
    r"|Result for output key )"
)
# Progress lines come every so many seconds: how many depends on the machine's speed.
TIMED = re.compile(r"^\S+ \S+ (\[[\w ]+\] )?INFO (eval|predict) [\d,]+(/~?[\d,]+)? ")


def commands_with_output(text: str) -> list[tuple[str, list[str] | None]]:
    """(command, the output shown directly below it, or None) of each ```bash block of
    `text`, in order; a block's continuation lines joined."""
    found, blocks = [], list(_BLOCK.finditer(text))
    for i, block in enumerate(blocks):
        if block.group(1) != "bash":
            continue
        shown = None
        after = blocks[i + 1] if i + 1 < len(blocks) else None
        if after and after.group(1) == "text" and not text[block.end() : after.start()].strip():
            shown = after.group(2).splitlines()
        found.append((block.group(2).replace("\\\n", " ").strip(), shown))
    return found


def shape(line: str) -> str:
    """`line` with its times, absolute paths, durations and numbers as placeholders."""
    line = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+", "<time>", line)
    line = re.sub(r"(?<![\w<])(/[\w.+-]+)+/?", "<path>", line)
    line = re.sub(r"\b\d+(m\d\ds|h\d\dm)\b|\b\d+(\.\d+)?s\b", "<dur>", line)
    line = re.sub(r"\d{1,3}(,\d{3})+", "<n>", line)
    return re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "<n>", line)


def unprinted(shown: list[str], printed: str) -> list[str]:
    """The shown easymtl lines whose shape no printed line has (but cut lines and
    progress lines, see the module's docstring)."""
    shapes = {shape(line) for line in printed.splitlines()}
    return [
        line
        for line in shown
        if OURS.match(line)
        and not TIMED.match(line)
        and "…" not in line
        and shape(line) not in shapes
    ]
