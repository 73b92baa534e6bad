"""ParquetDataset: Parquet files → batches of typed columns, list columns as padded lists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
from conftest import SAMPLES, make_config
from google.protobuf import text_format

from easymtl.config import PipelineConfig, load_config
from easymtl.data import BAD_ROWS, BadRows, build_dataset
from easymtl.data.parquet import schema_fields
from easymtl.errors import EasymtlError
from easymtl.protos import data_pb2
from easymtl.testing import csv_to_parquet


def data_config(text: str = "") -> data_pb2.DataConfig:
    config = data_pb2.DataConfig(dataset_type=data_pb2.ParquetDataset)
    text_format.Merge(text, config)
    return config


def write(tmp_path: Path, columns: dict, name: str = "data.parquet", **kwargs) -> str:
    path = str(tmp_path / name)
    pq.write_table(pa.table(columns), path, **kwargs)
    return path


def read(config, files, columns, batch_size=100, training=False, seed=0) -> list[dict]:
    dataset = build_dataset(config, files, columns, batch_size, training, seed)
    return [{k: v.numpy() for k, v in batch.items()} for batch in dataset]


def types(fields) -> dict[str, str]:
    return {f.input_name: data_pb2.FieldType.Name(f.input_type) for f in fields}


def test_field_types_from_schema(tmp_path):
    path = write(
        tmp_path,
        {
            "flag": pa.array([True], pa.bool_()),
            "i8": pa.array([1], pa.int8()),
            "i32": pa.array([1], pa.int32()),
            "u32": pa.array([1], pa.uint32()),
            "i64": pa.array([1], pa.int64()),
            "f32": pa.array([1], pa.float32()),
            "f64": pa.array([1], pa.float64()),
            "s": pa.array(["a"], pa.string()),
            "ls": pa.array(["a"], pa.large_string()),
            "b": pa.array([b"a"], pa.binary()),
            "d": pa.array(["a"]).dictionary_encode(),
            "li": pa.array([[1]], pa.list_(pa.int32())),
            "ll": pa.array([[1]], pa.large_list(pa.int64())),
            "lf": pa.array([[1]], pa.list_(pa.float32())),
            "ld": pa.array([[1]], pa.list_(pa.float64())),
            "lstr": pa.array([["a"]], pa.list_(pa.string())),
        },
    )
    assert types(schema_fields(path)) == {
        "flag": "INT32",
        "i8": "INT32",
        "i32": "INT32",
        "u32": "INT64",
        "i64": "INT64",
        "f32": "FLOAT",
        "f64": "DOUBLE",
        "s": "STRING",
        "ls": "STRING",
        "b": "STRING",
        "d": "STRING",
        "li": "ARRAY_INT32",
        "ll": "ARRAY_INT64",
        "lf": "ARRAY_FLOAT",
        "ld": "ARRAY_DOUBLE",
        "lstr": "ARRAY_STRING",
    }


def test_batches_hold_the_values_with_lists_padded_to_the_longest_in_the_batch(tmp_path):
    path = write(
        tmp_path,
        {
            "id": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "name": ["a", None, "ccc", "", "é"],
            "score": pa.array([0.5, 1, 2, 3, 4], pa.float32()),
            "tags": [["x", "y"], None, [], ["z"], ["u", "v", "w"]],
            "nums": pa.array([[1], [2, 3, 4], [], [5], None], pa.list_(pa.int32())),
            "ws": [[0.5], [], [1.5, 2.5], None, [3.5]],
            # A column easymtl cannot read is fine where it is not read.
            "when": pa.array([0, 1, 2, 3, 4], pa.timestamp("ms")),
        },
    )
    config = data_config()
    for name, kind in [
        ("id", "INT64"),
        ("name", "STRING"),
        ("score", "FLOAT"),
        ("tags", "ARRAY_STRING"),
        ("nums", "ARRAY_INT32"),
        ("ws", "ARRAY_DOUBLE"),
    ]:
        config.input_fields.add(input_name=name, input_type=data_pb2.FieldType.Value(kind))
    columns = ["id", "name", "score", "tags", "nums", "ws"]
    batches = read(config, [path], columns, batch_size=2)
    assert [len(b["id"]) for b in batches] == [2, 2, 1]
    first, second, last = batches
    assert first["id"].dtype == np.int64 and first["score"].dtype == np.float32
    assert first["id"].tolist() == [1, 2]
    assert first["name"].tolist() == [b"a", b""]
    assert first["tags"].tolist() == [[b"x", b"y"], [b"", b""]]
    assert first["nums"].dtype == np.int32
    assert first["nums"].tolist() == [[1, -1, -1], [2, 3, 4]]
    assert second["tags"].tolist() == [[b""], [b"z"]]
    np.testing.assert_array_equal(second["ws"], [[1.5, 2.5], [np.nan, np.nan]])
    assert last["name"].tolist() == ["é".encode()]
    assert last["tags"].tolist() == [[b"u", b"v", b"w"]]
    assert last["nums"].shape == (1, 0)

    dataset = build_dataset(config, [path], columns, 2, training=False)
    assert dataset.element_spec["tags"].shape.as_list() == [None, None]
    assert dataset.element_spec["id"].shape.as_list() == [None]


def test_columns_are_cast_to_their_fields_types(tmp_path):
    path = write(tmp_path, {"a": pa.array([1, 2], pa.int64()), "b": [7, 8], "c": [True, False]})
    config = data_config(
        """input_fields { input_name: "a" input_type: INT32 }
        input_fields { input_name: "b" input_type: STRING }
        input_fields { input_name: "c" input_type: DOUBLE }"""
    )
    (batch,) = read(config, [path], ["a", "b", "c"])
    assert batch["a"].dtype == np.int32 and batch["a"].tolist() == [1, 2]
    assert batch["b"].tolist() == [b"7", b"8"]
    assert batch["c"].tolist() == [1.0, 0.0]


def test_nulls_take_default_val(tmp_path):
    path = write(
        tmp_path,
        {"n": pa.array([None, 2], pa.int64()), "l": pa.array([[1.0, None], None])},
    )
    config = data_config(
        """input_fields { input_name: "n" input_type: INT64 default_val: "-7" }
        input_fields { input_name: "l" input_type: ARRAY_FLOAT default_val: "0.25" }"""
    )
    (batch,) = read(config, [path], ["n", "l"])
    assert batch["n"].tolist() == [-7, 2]
    np.testing.assert_array_equal(batch["l"], [[1.0, 0.25], [np.nan, np.nan]])


def test_data_wide_defaults_fill_numeric_nulls_but_not_labels(tmp_path):
    """TorchEasyRec's mock data has nulls in its int64 and float columns: one default per
    type covers every feature column; a label's null stays an error."""
    path = write(
        tmp_path,
        {
            "id": pa.array([None, 2], pa.int64()),
            "price": pa.array([1.5, None], pa.float32()),
            "ids": pa.array([[1, None], None], pa.list_(pa.int64())),
            "clk": pa.array([1, None], pa.int32()),
        },
    )
    config = data_config(
        """input_fields { input_name: "id" input_type: INT64 }
        input_fields { input_name: "price" input_type: FLOAT }
        input_fields { input_name: "ids" input_type: ARRAY_INT64 }
        input_fields { input_name: "clk" input_type: INT32 }
        int_default_val: "-1" float_default_val: "0" """
    )
    (batch,) = read(config, [path], ["id", "price", "ids"])
    assert batch["id"].tolist() == [-1, 2] and batch["price"].tolist() == [1.5, 0.0]
    assert batch["ids"].tolist() == [[1, -1], [-1, -1]]  # a null item -1; a null list empty
    config.label_fields.append("clk")
    with pytest.raises(EasymtlError, match="column 'clk': 1 null values and no default_val"):
        read(config, [path], ["id", "clk"])


NO_DEFAULT = """input_fields { input_name: "id" input_type: INT64 }
    input_fields { input_name: "price" input_type: DOUBLE }"""


def test_null_number_without_default_val_is_an_error_before_reading(tmp_path):
    path = write(tmp_path, {"id": [1, 2, 3], "price": [1.5, None, 2.0]})
    with pytest.raises(EasymtlError) as e:
        build_dataset(data_config(NO_DEFAULT), [path], ["id", "price"], 2, training=False)
    assert f"{path}: column 'price': 1 null values and no default_val" in str(e.value)


def test_null_number_without_statistics_stops_reading_naming_file_row_and_column(tmp_path):
    path = write(tmp_path, {"id": [1, 2, 3], "price": [1.5, 2.0, None]}, write_statistics=False)
    config = data_config(NO_DEFAULT)
    dataset = build_dataset(config, [path], ["id", "price"], 2, training=False)
    with pytest.raises(EasymtlError) as e:
        list(BadRows(config, [path], ["id", "price"], None, "eval_input_path", None)(dataset))
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith("eval_input_path: ")
    assert f"{path}: row 2: column price: null value and no default_val" in message


def test_skip_policy_drops_and_counts_rows_with_null_numbers(tmp_path):
    path = write(
        tmp_path,
        {"id": [1, 2, 3, 4], "price": [1.5, None, 2.0, None], "l": [[1], [2], [None], [4]]},
    )
    config = data_config(
        NO_DEFAULT + 'input_fields { input_name: "l" input_type: ARRAY_INT64 } bad_row_policy: SKIP'
    )
    batches = read(config, [path], ["id", "price", "l"], batch_size=2)
    assert [b["id"].tolist() for b in batches] == [[1], []]
    assert [int(b[BAD_ROWS]) for b in batches] == [1, 2]


@pytest.mark.parametrize(
    "fields, columns, message",
    [
        ('input_fields { input_name: "tags" }', ["tags"], "column 'tags' has type list<"),
        ('input_fields { input_name: "id" input_type: ARRAY_INT64 }', ["id"], "'id' has type"),
        ('input_fields { input_name: "when" input_type: INT64 }', ["when"], "timestamp.ms"),
        ('input_fields { input_name: "nope" }', ["nope"], "has no column 'nope'"),
    ],
)
def test_column_of_the_wrong_kind_is_an_error(tmp_path, fields, columns, message):
    path = write(
        tmp_path,
        {"id": [1], "tags": [["a"]], "when": pa.array([0], pa.timestamp("ms"))},
    )
    with pytest.raises(EasymtlError, match=message) as e:
        build_dataset(data_config(fields), [path], columns, 2, training=False)
    assert str(e.value).startswith(f"{path}: ")


def test_unsupported_column_type_in_the_schema_is_an_error(tmp_path):
    path = write(tmp_path, {"id": [1], "when": pa.array([0], pa.timestamp("ms"))})
    with pytest.raises(EasymtlError, match=r"column 'when' has type timestamp\[ms\]"):
        schema_fields(path)


def test_not_a_parquet_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(EasymtlError, match=f"^{path}: cannot read as Parquet: "):
        schema_fields(str(path))


def test_value_that_does_not_fit_the_field_stops_reading(tmp_path):
    path = write(tmp_path, {"id": [1, 2**40]})
    config = data_config('input_fields { input_name: "id" input_type: INT32 }')
    dataset = build_dataset(config, [path], ["id"], 2, training=False)
    with pytest.raises(tf.errors.InvalidArgumentError, match="column id: cannot read int64"):
        list(dataset)


def test_files_in_order_or_shuffled_by_seed_with_drop_remainder(tmp_path):
    files = [
        write(tmp_path, {"id": list(range(i * 1000, (i + 1) * 1000))}, f"{i}.parquet")
        for i in range(3)
    ]
    config = data_config(
        'input_fields { input_name: "id" input_type: INT64 } num_workers: 1 '
        "shuffle: true shuffle_buffer_size: 200"
    )
    ids = np.concatenate([b["id"] for b in read(config, files, ["id"], batch_size=64)])
    assert ids.tolist() == list(range(3000))  # not training: in file order

    def shuffled(seed, drop_remainder=False):
        config.drop_remainder = drop_remainder
        batches = read(config, files, ["id"], batch_size=64, training=True, seed=seed)
        return [b["id"].tolist() for b in batches]

    first = shuffled(1)
    ids = sorted(i for b in first for i in b)
    assert ids == list(range(3000)) and [len(b) for b in first][-2:] == [64, 3000 % 64]
    assert first == shuffled(1) and first != shuffled(2)
    assert all(len(b) == 64 for b in shuffled(1, drop_remainder=True))
    config.num_workers = 3  # files read in parallel, taken in turn
    assert sorted(i for b in shuffled(3) for i in b) == list(range(3000))


# ------------------------------------------------------------------ config and training


def copies(tmp_path: Path, rows: dict[str, int]) -> dict[str, tuple[Path, Path]]:
    """The first rows of the sample train/eval CSVs, as CSV and Parquet (tag lists as
    list<string> columns)."""
    config = PipelineConfig()
    text_format.Parse((SAMPLES / "configs" / "mmoe_taobao.config").read_text(), config)
    fields = config.data_config.input_fields
    out = {}
    for split, n in rows.items():
        lines = (SAMPLES / "data" / f"taobao_mtl_{split}.csv").read_text().splitlines()[:n]
        csv_path, parquet_path = tmp_path / f"{split}.csv", tmp_path / f"{split}.parquet"
        csv_path.write_text("\n".join(lines) + "\n")
        csv_to_parquet(csv_path, fields, parquet_path, ["tag_category_list", "tag_brand_list"])
        out[split] = csv_path, parquet_path
    return out


def sample_config(
    directory: Path, train, eval_, parquet: bool = True, extra: str = "", features=()
) -> Path:
    """The sample config (small MMoE) over `train` and `eval_`: CSV, or Parquet with
    input_fields left to the schema; `features` (if given) make its feature group."""
    directory.mkdir(exist_ok=True)
    path = make_config(directory, "mmoe", extra)
    config = PipelineConfig()
    text_format.Parse(path.read_text(), config)
    config.train_input_path, config.eval_input_path = str(train), str(eval_)
    if parquet:
        config.data_config.dataset_type = data_pb2.ParquetDataset
        config.data_config.ClearField("input_fields")
    if features:
        group = config.model_config.feature_groups[0]
        del group.feature_names[:]
        group.feature_names.extend(features)
    path.write_text(text_format.MessageToString(config))
    return path


def test_config_takes_input_fields_from_the_first_train_else_eval_file(tmp_path):
    data = copies(tmp_path, {"train": 10, "eval": 10})
    config = load_config(str(sample_config(tmp_path, data["train"][1], "")))
    fields = types(config.data_config.input_fields)
    assert list(fields)[:3] == ["clk", "buy", "pid"]
    assert fields["clk"] == "INT32" and fields["price"] == "INT64"
    assert fields["tag_brand_list"] == "ARRAY_STRING" and fields["user_id"] == "STRING"
    config = load_config(str(sample_config(tmp_path, "", data["eval"][1])))
    assert types(config.data_config.input_fields) == fields

    missing = tmp_path / "missing-*.parquet"
    expected = f"train_input_path: no file matches '{missing}'"
    with pytest.raises(EasymtlError, match="^" + re.escape(expected)):
        load_config(str(sample_config(tmp_path, missing, "")))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    expected = f"train_input_path: {broken}: cannot read as Parquet: "
    with pytest.raises(EasymtlError, match="^" + re.escape(expected)):
        load_config(str(sample_config(tmp_path, broken, "")))


@pytest.mark.slow
def test_parquet_and_csv_copies_train_to_the_same_metrics(tmp_path):
    from easymtl.export import export_saved_model
    from easymtl.runner import Runner

    data = copies(tmp_path, {"train": 2048, "eval": 1000})
    extra = "train_config { num_steps: 8 } data_config { shuffle: false }"
    # Hashed, bucketed and numeric features, and the two tag lists (list columns).
    features = ["user_id", "cms_segid", "price", "tag_category_list", "tag_brand_list"]
    configs = {
        name: sample_config(
            tmp_path / name, data["train"][i], data["eval"][i], name == "parquet", extra, features
        )
        for i, name in enumerate(["csv", "parquet"])
    }
    results = {}
    for name, path in configs.items():
        runner = Runner(load_config(str(path)))
        runner.train()
        results[name] = runner.evaluate()
        stored = json.loads((Path(runner.model_dir) / "eval_result.json").read_text())
        assert stored == pytest.approx(results[name])
    assert results["csv"]["num_examples"] == 1000 and results["csv"]["global_step"] == 8
    assert results["parquet"] == pytest.approx(results["csv"], abs=1e-6)

    # The export takes a list column as a [batch, list length] input.
    specs = runner.serving_specs()
    assert specs["tag_brand_list"].shape.as_list() == [None, None]
    assert specs["user_id"].shape.as_list() == [None]
    export_dir = export_saved_model(runner.model, specs, str(tmp_path / "export"))
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    batch = next(iter(runner.build_dataset(False)))
    inputs = {name: batch[name] for name in specs}
    served = serve(**inputs)
    expected = runner.model(inputs, training=False)
    np.testing.assert_allclose(served["probs_ctr"], expected["probs_ctr"], atol=1e-6)
