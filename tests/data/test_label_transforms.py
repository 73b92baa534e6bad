"""data_config.label_transforms (0/1 labels derived from input fields as they are read),
skip_initial_space (", "-separated files) and gzipped CSV input."""

from __future__ import annotations

import gzip

import pytest
from google.protobuf import text_format

from easymtl.config import validate
from easymtl.data import build_dataset
from easymtl.data.checks import find_parse_error
from easymtl.errors import ConfigError
from easymtl.protos import data_pb2

ROWS = [
    "73, Widowed, - 50000., 0",
    "58, Never married, 50000+., 1200",
    "18, Never married , - 50000., 0",
    "40, Divorced, 50000+., 7",
]
DATA = """
    skip_initial_space: true
    input_fields { input_name: "age" input_type: INT64 }
    input_fields { input_name: "marital" input_type: STRING }
    input_fields { input_name: "income_50k" input_type: STRING }
    input_fields { input_name: "gains" input_type: DOUBLE }
    label_transforms { label_name: "income" input_name: "income_50k" equals: "50000+." }
    label_transforms { label_name: "never_married" input_name: "marital"
        in_set { values: ["Never married", "Children"] } }
    label_transforms { label_name: "adult" input_name: "age" greater_or_equal: 18 }
    label_transforms { label_name: "has_gains" input_name: "gains" greater_than: 0 }
    label_fields: ["income", "never_married", "adult", "has_gains"]
"""


def data_config(extra: str = "") -> data_pb2.DataConfig:
    return text_format.Parse(DATA + extra, data_pb2.DataConfig())


def write(path, rows, compress=False):
    text = "\n".join(rows) + "\n"
    if compress:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return str(path)


@pytest.mark.parametrize("name", ["rows.csv", "rows.csv.gz"])
def test_derived_labels_from_a_comma_space_file(tmp_path, name):
    path = write(tmp_path / name, ROWS, compress=name.endswith(".gz"))
    columns = ["age", "marital", "income", "never_married", "adult", "has_gains"]
    batch = next(iter(build_dataset(data_config(), [path], columns, 8, training=False)))
    assert sorted(batch) == sorted(columns)  # income_50k and gains were read only for labels
    assert batch["age"].numpy().tolist() == [73, 58, 18, 40]
    assert batch["marital"].numpy().tolist()[:2] == [b"Widowed", b"Never married"]
    assert batch["income"].numpy().tolist() == [0, 1, 0, 1]
    # "Never married " (a trailing space) is in the set: spaces around a value are ignored.
    assert batch["never_married"].numpy().tolist() == [0, 1, 1, 0]
    assert batch["adult"].numpy().tolist() == [1, 1, 1, 1]
    assert batch["has_gains"].numpy().tolist() == [0, 1, 0, 1]


def test_without_skip_initial_space_the_spaces_stay(tmp_path):
    path = write(tmp_path / "rows.csv", ["1, a"])
    config = data_config().__class__()
    text_format.Parse(
        'input_fields { input_name: "n" input_type: INT64 } '
        'input_fields { input_name: "s" input_type: STRING }',
        config,
    )
    batch = next(iter(build_dataset(config, [path], ["n", "s"], 8, training=False)))
    assert batch["s"].numpy().tolist() == [b" a"]


def test_a_bad_row_of_a_gzipped_comma_space_file_is_found(tmp_path):
    path = write(tmp_path / "rows.csv.gz", [*ROWS[:2], "x7, Widowed, - 50000., 0"], True)
    found = find_parse_error(data_config(), path, ["age"])
    assert found == f"{path}: line 3: column 'age': 'x7' is not a valid INT64 value"


@pytest.mark.parametrize(
    "edit, field, message",
    [
        ('label_transforms { label_name: "age" input_name: "marital" equals: "x" }',
         "label_transforms[4].label_name", "already an input field"),
        ('label_transforms { label_name: "y" input_name: "nope" equals: "x" }',
         "label_transforms[4].input_name", "'nope' is not one of"),
        ('label_transforms { label_name: "y" input_name: "marital" }',
         "label_transforms[4]", "expected a rule"),
        ('label_transforms { label_name: "y" input_name: "age" equals: "3" }',
         "label_transforms[4].equals", "needs a STRING field; 'age' is INT64"),
        ('label_transforms { label_name: "y" input_name: "marital" greater_than: 1 }',
         "label_transforms[4].greater_than", "needs a numeric field"),
        ('label_transforms { label_name: "y" input_name: "marital" in_set {} }',
         "label_transforms[4].in_set.values", "at least one value"),
        ('label_fields: "z"', "label_fields[4]", "input_fields or label_transforms"),
    ],
)  # fmt: skip
def test_bad_label_transforms_name_the_field(edit, field, message):
    from easymtl.config import PipelineConfig

    config = PipelineConfig()
    config.data_config.CopyFrom(data_config(edit))
    with pytest.raises(ConfigError, match=message) as e:
        validate(config)
    assert e.value.field == f"data_config.{field}"
