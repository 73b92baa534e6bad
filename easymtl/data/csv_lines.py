"""CSV lines as easymtl reads them: one row per line, its cells split as TensorFlow's
``decode_csv`` splits them (RFC 4180 quoting within the line), and the header line.

Three readers must agree on what a line holds: ``decode_csv`` in the input pipeline
(which counts every line's cells exactly), :func:`valid_lines`, which finds the lines it
would refuse a batch at a time under ``bad_row_policy: SKIP``, and :func:`line_problem`,
which names what is wrong with a line when reading stops. The rules:

- cells are separated by ``data_config.delimiter``; a cell that starts with ``"`` is
  quoted: it ends at the next ``"`` not doubled, may hold the delimiter, and ``""`` in it
  is one ``"`` (as Python's csv, pandas and Spark write them);
- an unquoted cell holds no ``"`` and no carriage return;
- a quoted cell ends on its line: a line break inside quotes is not supported (rows are
  lines); such a line stops reading under STOP and SKIP alike;
- a number may have spaces around it, and may be quoted;
- a line has exactly as many cells as ``data_config.input_fields`` has fields.
"""

from __future__ import annotations

import re

from easymtl.protos import data_pb2

# The number syntax decode_csv accepts (hexadecimal floats aside), spaces around allowed.
_SPACE = r"[ \t\f\v]*"
INT = _SPACE + r"[-+]?[0-9]+" + _SPACE
FLOAT = (
    _SPACE
    + r"(?:[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?(?i:nan|inf|infinity))"
    + _SPACE
)
_RANGES = {"INT32": (-(2**31), 2**31 - 1), "INT64": (-(2**63), 2**63 - 1)}
UNCLOSED = (
    "a quoted cell is not closed on this line: easymtl reads one row per line, so a cell "
    "may not hold a line break, even quoted; remove the line breaks from the cells (e.g. "
    "replace them with spaces) when writing the file"
)


class LineError(ValueError):
    """A line that does not split into cells.

    Args:
        what: What is wrong, for the message.
        fatal: Whether reading must stop even under ``bad_row_policy: SKIP`` (an unclosed
            quote: the lines after it are not rows).
    """

    def __init__(self, what: str, fatal: bool = False):
        super().__init__(what)
        self.what = what
        self.fatal = fatal
        # What the error message advises, where not the usual (see easymtl.data.checks).
        self.hint: str | None = None


def split_line(line: str, delimiter: str = ",") -> list[str]:
    """The cells of one CSV line (without its line break), unquoted, as ``decode_csv``
    reads them.

    Raises:
        LineError: a quote in an unquoted cell, a quoted cell followed by anything but
            the delimiter, or a quoted cell not closed on the line (fatal).
    """
    cells, i, n = [], 0, len(line)
    while True:
        if i < n and line[i] == '"':
            parts, j = [], i + 1
            while True:
                k = line.find('"', j)
                if k < 0:
                    raise LineError(UNCLOSED, fatal=True)
                parts.append(line[j:k])
                if line.startswith('"', k + 1):  # a doubled quote: one " in the cell
                    parts.append('"')
                    j = k + 2
                    continue
                break
            i = k + 1
            if i < n and not line.startswith(delimiter, i):
                raise LineError(
                    f"cell {len(cells) + 1}: a quoted cell is followed by {line[i]!r}, not by "
                    'the delimiter; a quote inside a quoted cell is written twice ("")'
                )
            cells.append("".join(parts))
        else:
            k = line.find(delimiter, i)
            end = n if k < 0 else k
            cell = line[i:end]
            if '"' in cell or "\r" in cell:
                what = 'a quote (")' if '"' in cell else "a carriage return"
                raise LineError(
                    f"cell {len(cells) + 1}: {cell!r} holds {what} but is not quoted; a cell "
                    'holding quotes is written in quotes, its quotes doubled ("a ""b""")'
                )
            cells.append(cell)
            i = end
        if i >= n:
            return cells
        i += len(delimiter)
        if i >= n:  # the line ends in a delimiter: an empty last cell
            cells.append("")
            return cells


def field_default(data_config, field) -> str | None:
    """The value an empty (CSV) or null (Parquet) number of `field` reads as: its
    ``default_val``; else, unless it is a label or sample weight field, the data_config's
    ``int_default_val`` or ``float_default_val`` for its type; else None (a bad row).
    Strings have no default here: an empty string is ""."""
    if field.HasField("default_val"):
        return field.default_val
    kind = data_pb2.FieldType.Name(field.input_type).removeprefix("ARRAY_")
    if kind == "STRING" or field.input_name in _label_like(data_config):
        return None
    name = "int_default_val" if kind.startswith("INT") else "float_default_val"
    return getattr(data_config, name) if data_config.HasField(name) else None


def _label_like(data_config) -> set[str]:
    return set(data_config.label_fields) | set(data_config.sample_weight_fields)


def line_problem(line: str, data_config, columns) -> LineError | None:
    """What stops ``decode_csv`` reading `line` (the line as the reader sees it, after
    ``skip_initial_space``), or None. `columns`: the fields decoded with their type
    (the others are read as strings)."""
    fields = list(data_config.input_fields)
    if line == "":
        return LineError(f"is empty; expected {len(fields)} columns (data_config.input_fields)")
    try:
        cells = split_line(line, data_config.delimiter)
    except LineError as e:
        return e
    if len(cells) != len(fields):
        return LineError(
            f"expected {len(fields)} columns (data_config.input_fields), found {len(cells)}"
        )
    wanted = set(columns)
    for cell, f in zip(cells, fields):
        if f.input_name not in wanted or f.input_type == data_pb2.STRING:
            continue
        kind = data_pb2.FieldType.Name(f.input_type)
        if cell.strip() == "":
            if field_default(data_config, f) is None:
                return LineError(f"column {f.input_name!r}: empty {kind} value and {NO_DEFAULT}")
            continue
        if not re.fullmatch(INT if kind.startswith("INT") else FLOAT, cell):
            return LineError(f"column {f.input_name!r}: {cell!r} is not a valid {kind} value")
        if kind in _RANGES:
            low, high = _RANGES[kind]
            if not low <= int(cell) <= high:
                # Fatal: the pattern of valid lines cannot see it (see valid_lines).
                return LineError(
                    f"column {f.input_name!r}: {cell.strip()} is outside the range of {kind}"
                    + ("; type the field INT64" if kind == "INT32" else ""),
                    fatal=True,
                )
    return None


NO_DEFAULT = "no default_val"


def line_pattern(data_config, columns) -> str:
    """An RE2 pattern that matches exactly the lines that :func:`line_problem` accepts
    (numbers out of their type's range aside): the cells' syntax, their count, and the
    numbers of the typed `columns`."""
    d = _re2_char(data_config.delimiter)
    quoted = r'"(?:[^"]|"")*"'
    plain = f'[^"\\r{d}]*'
    any_cell = f"(?:{quoted}|{plain})"
    wanted = set(columns)
    cells = []
    for f in data_config.input_fields:
        kind = data_pb2.FieldType.Name(f.input_type)
        if f.input_name not in wanted or kind == "STRING":
            cells.append(any_cell)
            continue
        number = INT if kind.startswith("INT") else FLOAT
        cell = f'{number}|"{number}"'
        if field_default(data_config, f) is not None:
            cell += f'|{_SPACE}|"{_SPACE}"'
        cells.append(f"(?:{cell})")
    return d.join(cells)


def delimiter_count_pattern(delimiter: str, cells: int) -> str:
    """An RE2 pattern of the lines with exactly ``cells - 1`` delimiters (quotes not
    looked at: a line that has them has at most `cells` cells)."""
    d = _re2_char(delimiter)
    return f"(?:[^{d}]*{d}){{{cells - 1}}}[^{d}]*" if cells > 1 else f"[^{d}]*"


def cells_pattern(delimiter: str, cells: int) -> str:
    """An RE2 pattern of the lines that split into exactly `cells` well-formed cells."""
    d = _re2_char(delimiter)
    cell = f'(?:"(?:[^"]|"")*"|[^"\\r{d}]*)'
    return f"{cell}(?:{d}{cell}){{{cells - 1}}}" if cells > 1 else cell


def _re2_char(delimiter: str) -> str:
    """The delimiter, one ASCII character (config.py checks), as RE2's hex escape."""
    return f"\\x{{{ord(delimiter):02x}}}"


def unclosed_pattern(delimiter: str) -> str:
    """An RE2 pattern of the lines that :func:`split_line` finds a quoted cell not
    closed in (fatal), its cells before it well formed."""
    d = _re2_char(delimiter)
    return f'(?:(?:"(?:[^"]|"")*"|[^"\\r{d}]*){d})*"(?:[^"]|"")*'


# ------------------------------------------------------------------------------ header


def header_problem(header: list[str], data_config) -> str | None:
    """What differs between a file's header cells and ``data_config.input_fields`` (the
    first column that does), or None. Columns are read by position, so the header must
    list the fields' names in their order."""
    names = [f.input_name for f in data_config.input_fields]
    found = [cell.strip() for cell in header]
    if found == names:
        return None
    for i in range(max(len(names), len(found))):
        name = names[i] if i < len(names) else None
        got = found[i] if i < len(found) else None
        if name == got:
            continue
        if name is None:
            return (
                f"its header has a column {got!r} (column {i + 1}) that data_config."
                "input_fields does not list; list every column of the file, in its order"
            )
        where = f"data_config.input_fields[{i}] {name!r}"
        if name in found:
            return (
                f"{where} is column {found.index(name) + 1} of its header, not column "
                f"{i + 1}; input_fields must list the file's columns in the file's order "
                "(columns are read by position)"
            )
        if got is not None and got not in names:
            return (
                f"{where} is not in its header, which has {got!r} as column {i + 1}; "
                "rename the field (or the column) so that they agree"
            )
        return f"{where} is not in its header ({len(found)} columns: {', '.join(found)})"
    return None
