"""CSV rows read exactly or refused: cell counts, RFC 4180 quoting as Python's csv and
pandas write it, the header check, the SKIP pattern agreeing with the stopping reader,
and the share of bad rows a pass may skip."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import tensorflow as tf
from google.protobuf import text_format

from easymtl.data import BAD_ROWS, BadRows, build_dataset, check_files
from easymtl.data.checks import valid_lines
from easymtl.data.csv_lines import LineError, header_problem, line_problem, split_line
from easymtl.errors import EasymtlError
from easymtl.protos import data_pb2

FIELDS = """
input_fields { input_name: "id" input_type: INT64 }
input_fields { input_name: "title" input_type: STRING }
input_fields { input_name: "price" input_type: FLOAT }
input_fields { input_name: "note" input_type: STRING }
"""
COLUMNS = ["id", "title", "price", "note"]
# Cells that need quoting: the delimiter, quotes, both, leading spaces, empty.
ROWS = [
    [1, "phone, 64 GB", 199.5, 'the "best"'],
    [2, "", 3.0, '""'],
    [3, '"', 4.25, "a,b,c"],
    [4, " padded ", -1.0, ","],
]


def config(text: str = "") -> data_pb2.DataConfig:
    data = data_pb2.DataConfig()
    text_format.Merge(FIELDS + text, data)
    return data


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def read(data, files, columns=COLUMNS, batch_size=64, source="train_input_path"):
    """The batches of `files` through BadRows, as numpy values (raises EasymtlError)."""
    dataset = build_dataset(data, files, columns, batch_size, training=False)
    bad_rows = BadRows(data, files, columns, None, source, None)
    batches = [{k: v.numpy() for k, v in b.items()} for b in bad_rows(dataset)]
    return batches, bad_rows


def csv_text(rows, lineterminator="\n", **kwargs) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator=lineterminator, **kwargs).writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize(
    "line, cells",
    [
        ("a,b,c", ["a", "b", "c"]),
        ('a,"b,c",d', ["a", "b,c", "d"]),
        ('"a ""q"" b",,', ['a "q" b', "", ""]),
        ('"",x', ["", "x"]),
        ("x,", ["x", ""]),
        ('" 5 ",6', [" 5 ", "6"]),
    ],
)
def test_split_line_reads_rfc4180_cells(line, cells):
    assert split_line(line, ",") == cells


@pytest.mark.parametrize(
    "line, what, fatal",
    [
        ('a,5" screen,c', "holds a quote", False),
        ('a,"b"c,d', "is followed by 'c'", False),
        ('a,"b,c', "not closed on this line", True),
    ],
)
def test_split_line_refuses_quotes_out_of_place(line, what, fatal):
    with pytest.raises(LineError) as e:
        split_line(line, ",")
    assert what in e.value.what and e.value.fatal == fatal


@pytest.mark.parametrize(
    "quoting, end",
    [
        (csv.QUOTE_MINIMAL, "\r\n"),  # csv.writer's defaults
        (csv.QUOTE_ALL, "\n"),
        (csv.QUOTE_NONNUMERIC, "\n"),
    ],
)
def test_python_csv_files_read_cell_for_cell(tmp_path, quoting, end):
    path = str(tmp_path / "data.csv")
    with open(path, "w", newline="") as f:
        f.write(csv_text(ROWS, lineterminator=end, quoting=quoting))
    (batch,), _ = read(config(), [path])
    assert batch["id"].tolist() == [1, 2, 3, 4]
    assert [t.decode() for t in batch["title"]] == [r[1] for r in ROWS]
    assert batch["price"].tolist() == [r[2] for r in ROWS]
    assert [t.decode() for t in batch["note"]] == [r[3] for r in ROWS]


def test_arrow_file_with_header_reads_cell_for_cell(tmp_path):
    """pyarrow's CSV writer (as pandas' and Spark's with escape='"'): a header, quoted
    strings, doubled quotes."""
    import pyarrow as pa
    import pyarrow.csv

    table = pa.table({name: [r[i] for r in ROWS] for i, name in enumerate(COLUMNS)})
    path = str(tmp_path / "data.csv")
    pyarrow.csv.write_csv(table, path)
    data = config("with_header: true")
    (batch,), _ = read(data, check_files([path], data, "x"))
    assert [t.decode() for t in batch["title"]] == table["title"].to_pylist()
    assert [t.decode() for t in batch["note"]] == table["note"].to_pylist()


@pytest.mark.parametrize("policy", ["STOP", "SKIP"])
def test_a_row_with_one_cell_too_many_is_a_bad_row(tmp_path, policy):
    lines = csv_text(ROWS).splitlines()
    # Line 3 gains a cell; line 4's title holds the delimiter unquoted (a stray comma).
    lines[2] += ",extra"
    lines[3] = lines[3].replace(" padded ", "pad,ded", 1)
    assert lines[3] == '4,pad,ded,-1.0,","'
    path = write(tmp_path / "data.csv", "\n".join(lines) + "\n")
    data = config(f"bad_row_policy: {policy} max_bad_row_fraction: 1")
    if policy == "STOP":
        with pytest.raises(EasymtlError) as e:
            read(data, [path])
        assert str(e.value) == (
            f"train_input_path: {path}: line 3: expected 4 columns (data_config.input_fields), "
            "found 5 (fix the row, or set data_config.bad_row_policy: SKIP to skip bad rows)"
        )
        return
    (batch,), bad_rows = read(data, [path])
    assert batch["id"].tolist() == [1, 2] and int(batch[BAD_ROWS]) == 2
    assert (bad_rows.skipped, bad_rows.rows) == (2, 4)


def test_a_cell_too_many_is_found_when_only_some_columns_are_read(tmp_path):
    """Reading some columns, the reader decodes only those (and the last): a cell too
    many is found by counting, quoted delimiters in the other columns are not one."""
    good = csv_text(ROWS)
    path = write(tmp_path / "good.csv", good)
    (batch,), _ = read(config(), [path], columns=["id", "price"])
    assert sorted(batch) == ["id", "price"]
    assert batch["id"].tolist() == [1, 2, 3, 4] and batch["price"][0] == 199.5
    bad = write(tmp_path / "bad.csv", good + "5,x,1.0,y,extra\n")
    with pytest.raises(EasymtlError) as e:
        read(config(), [bad], columns=["id", "price"])
    assert f"{bad}: line 5: expected 4 columns (data_config.input_fields), found 5" in str(e.value)


def test_the_first_row_not_fitting_input_fields_points_at_the_config(tmp_path):
    path = write(tmp_path / "data.csv", "1,a,2.0\n2,b,3.0\n")
    with pytest.raises(EasymtlError) as e:
        read(config(), [path])
    assert "line 1: expected 4 columns (data_config.input_fields), found 3" in str(e.value)
    assert "check data_config.input_fields and data_config.delimiter" in str(e.value)
    assert "SKIP" not in str(e.value)


@pytest.mark.parametrize("policy", ["STOP", "SKIP"])
def test_a_line_break_inside_quotes_stops_reading_under_both_policies(tmp_path, policy):
    # The middle line of the broken row would read as a row: it must not.
    text = csv_text(ROWS[:2]) + '5,"two\n6,x,7.0,y\nlines",1.0,z\n' + csv_text(ROWS[2:])
    path = write(tmp_path / "data.csv", text)
    with pytest.raises(EasymtlError) as e:
        read(config(f"bad_row_policy: {policy} max_bad_row_fraction: 1"), [path])
    assert f"{path}: line 3: a quoted cell is not closed on this line" in str(e.value)
    assert "SKIP" not in str(e.value)


LINES = [
    "1,a,2.5,n",
    '1,"a,b",2.5,"x""y"',
    ' 7 , a ," 2.5 ",n',
    '"7",a,"1e3",',
    "1,a,nan,n",
    "1,a,,n",  # empty float: bad without a default
    "x,a,2.5,n",
    "1,a,2.5",
    "1,a,2.5,n,m",
    '1,a"b,2.5,n',
    '1,"a"b,2.5,n',
    "",
    "1,\xe9t\xe9,2.5,n",
]


@pytest.mark.parametrize("extra", ["", 'float_default_val: "0"'])
def test_skip_pattern_accepts_exactly_the_lines_the_reader_reads(extra):
    data = config(extra)
    expected = [line_problem(line, data, COLUMNS) is None for line in LINES]
    # Latin-1 bytes in a string cell are read as they are, and not refused by the pattern.
    raw = [line.encode("latin-1") if "\xe9" in line else line.encode() for line in LINES]
    found = valid_lines(tf.constant(raw), data, set(COLUMNS)).numpy().tolist()
    assert found == expected
    assert expected[5] is bool(extra) and expected[-1] is True


def test_data_wide_defaults_fill_empty_numbers_but_not_labels(tmp_path):
    path = write(tmp_path / "data.csv", "1,a,,n\n,b,2.0,m\n")
    data = config('int_default_val: "-1" float_default_val: "0.5"')
    (batch,), _ = read(data, [path])
    assert batch["id"].tolist() == [1, -1] and batch["price"].tolist() == [0.5, 2.0]
    data.label_fields.append("id")
    with pytest.raises(EasymtlError, match="line 2: column 'id': empty INT64 value"):
        read(data, [path])


def test_skipping_more_than_max_bad_row_fraction_stops_naming_the_first(tmp_path):
    good = csv_text([[i, "t", 1.0, "n"] for i in range(97)]).splitlines()
    lines = good[:10] + ["1,t,cheap,n"] * 3 + good[10:]
    path = write(tmp_path / "data.csv", "\n".join(lines) + "\n")
    data = config("bad_row_policy: SKIP")  # default limit: 1 %
    with pytest.raises(EasymtlError) as e:
        read(data, [path])
    assert str(e.value) == (
        "train_input_path: 3 of the 100 rows read are bad (3.0%), more than data_config."
        f"max_bad_row_fraction 0.01; the first: {path}: line 11: column 'price': 'cheap' is "
        "not a valid FLOAT value; fix the input (or, to go on with fewer rows, raise "
        "max_bad_row_fraction)"
    )
    data.max_bad_row_fraction = 0.05
    batches, bad_rows = read(data, [path])
    assert sum(len(b["id"]) for b in batches) == 97 and bad_rows.skipped == 3


NAMES = "id,title,price,note"


@pytest.mark.parametrize(
    "header, message",
    [
        ("id,title,price", "data_config.input_fields[3] 'note' is not in its header (3 columns"),
        (
            "id,name,price,note",
            "data_config.input_fields[1] 'title' is not in its header, which has 'name' as "
            "column 2",
        ),
        ("id,price,title,note", "data_config.input_fields[1] 'title' is column 3 of its header"),
        ("id,title,price,note,x", "its header has a column 'x' (column 5) that data_config"),
    ],
)
def test_header_that_differs_from_input_fields_names_the_column_and_file(tmp_path, header, message):
    path = write(tmp_path / "data.csv", header + "\n1,a,2.0,n\n")
    data = config("with_header: true")
    with pytest.raises(EasymtlError) as e:
        check_files([path], data, "x.config: train_input_path")
    assert str(e.value).startswith(f"x.config: train_input_path: {path}: {message}"), e.value
    assert header_problem(NAMES.split(","), data) is None


def test_header_line_or_byte_order_mark_without_with_header_is_refused(tmp_path):
    header = write(tmp_path / "h.csv", NAMES + "\n1,a,2.0,n\n")
    with pytest.raises(EasymtlError, match="line 1: is a header line"):
        check_files([header], config(), "train_input_path")
    bom = write(tmp_path / "b.csv", "\ufeff1,a,2.0,n\n")
    with pytest.raises(EasymtlError, match="line 1: starts with a byte order mark"):
        check_files([bom], config(), "train_input_path")
    # With a header, the mark belongs to the header line and is ignored.
    with_bom = write(tmp_path / "c.csv", "\ufeff" + NAMES + "\n1,a,2.0,n\n")
    assert check_files([with_bom], config("with_header: true"), "x") == [with_bom]
