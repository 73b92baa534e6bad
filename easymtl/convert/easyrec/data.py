"""EasyRec's data_config (DatasetConfig) and input paths → easymtl's data_config.

Meaning as EasyRec's input/input.py, input/csv_input.py and utils/input_utils.py read it:
an empty CSV cell of a number reads as default_val, else 0 (get_type_defaults); data is
shuffled by default in windows of shuffle_buffer_size (32) rows; batch_size defaults to
32 and eval_batch_size to 4096.
"""

from __future__ import annotations

from easymtl.convert.record import Src
from easymtl.protos import data_pb2

FIELD_TYPES = {0: "INT32", 1: "INT64", 2: "STRING", 4: "FLOAT", 5: "DOUBLE", 6: "BOOL"}
INPUT_TYPES = {
    10: "CSVInput", 11: "CSVInputV2", 12: "CSVInputEx", 2: "OdpsInput", 3: "OdpsInputV2",
    15: "DataHubInput", 9: "OdpsInputV3", 4: "RTPInput", 5: "RTPInputV2",
    601: "OdpsRTPInput", 602: "OdpsRTPInputV2", 7: "TFRecordInput",
    14: "BatchTFRecordInput", 8: "DummyInput", 13: "KafkaInput", 16: "HiveInput",
    17: "HiveRTPInput", 18: "HiveParquetInput", 19: "ParquetInput", 20: "ParquetInputV2",
    21: "ParquetInputV3", 1001: "CriteoInput",
}  # fmt: skip
_CSV = {"CSVInput", "CSVInputV2"}
_PARQUET = {"ParquetInput", "ParquetInputV2", "ParquetInputV3"}
_SAMPLERS = (
    "negative_sampler", "negative_sampler_v2", "hard_negative_sampler",
    "hard_negative_sampler_v2", "negative_sampler_in_memory",
)  # fmt: skip
_EXPORT_DATA = (
    "Export the data to CSV or Parquet files and set input_type: CSVInput or ParquetInput"
)


def convert_paths(top: Src, config) -> str | None:
    """The pipeline's input paths; returns "ParquetInput" where EasyRec's
    parquet_train_input / parquet_eval_input name them (else None)."""
    parquet = None
    for kind in ("train", "eval"):
        name = f"{kind}_input_path"
        if top.has(name):
            setattr(config, name, top.get(name, keep=name))
        if top.has(f"parquet_{kind}_input"):
            setattr(config, name, top.get(f"parquet_{kind}_input", keep=name))
            parquet = "ParquetInput"
        for source in ("kafka", "datahub", "hive", "binary"):
            field = f"{source}_{kind}_input"
            if top.has(field):
                top.nodes(field)
                top.fail(field, f"{source} input is not read by easymtl. {_EXPORT_DATA}")
    return parquet


def convert_data(src: Src, data, parquet: str | None) -> dict:
    """Fills easymtl's DataConfig `data` from EasyRec's data_config `src`; returns what
    other parts need: ``batch_size``, ``num_epochs``, ``sample_weight`` (a field name
    or None) and ``fields`` (input name → EasyRec type name)."""
    input_type = src.get("input_type", INPUT_TYPES)
    if input_type is None and parquet is None:
        src.fail("input_type", "EasyRec's required input_type is missing (e.g. CSVInput)")
    input_type = input_type or parquet
    if input_type in _CSV:
        data.dataset_type = data_pb2.CsvDataset
        src.say(f"input_type {input_type} -> dataset_type CsvDataset")
    elif input_type in _PARQUET:
        data.dataset_type = data_pb2.ParquetDataset
        src.say(f"input_type {input_type} -> dataset_type ParquetDataset")
    elif input_type is not None:
        src.fail("input_type", f"{input_type} is not read by easymtl. {_EXPORT_DATA}")
    data.batch_size = src.get("batch_size", int, 32)
    src.say(
        f"batch_size {data.batch_size}" + ("" if src.has("batch_size") else " (EasyRec's default)")
    )
    data.eval_batch_size = src.get("eval_batch_size", int, 4096)
    if not src.has("eval_batch_size"):
        src.say("eval_batch_size 4096 (EasyRec's default)")
    else:
        src.keep("eval_batch_size")
    data.label_fields.extend(src.get_list("label_fields"))
    src.keep("label_fields")
    data.shuffle = src.get("shuffle", bool, True)
    if data.shuffle:
        data.shuffle_buffer_size = src.get("shuffle_buffer_size", int, 32)
        src.say(
            f"shuffle in windows of {data.shuffle_buffer_size} rows (EasyRec's"
            f"{' default' if not src.has('shuffle_buffer_size') else ''} shuffle_buffer_size)"
        )
    else:
        src.drop("shuffle_buffer_size", "no shuffle")
        src.say("shuffle false")
    data.delimiter = src.get("separator", str, ",")
    src.say(f"separator {data.delimiter!r} -> delimiter")
    if src.get("with_header", bool, False):
        data.with_header = True
        src.keep("with_header")
    if src.get("drop_remainder", bool, False):
        data.drop_remainder = True
        src.keep("drop_remainder")
    if src.get("ignore_error", bool, False):
        data.bad_row_policy = data_pb2.DataConfig.SKIP
        src.say("ignore_error -> bad_row_policy SKIP (bad rows counted and skipped)")
    sample_weight = src.get("sample_weight")
    if sample_weight:
        data.sample_weight_fields.append(sample_weight)
        src.say("sample_weight -> sample_weight_fields (towers read it by sample_weight_name)")
    num_epochs = src.get("num_epochs", int, 0)
    if num_epochs:
        src.say("num_epochs -> train_config.num_epochs")
    for name, why in (
        ("prefetch_size", "tf.data tunes its own prefetching"),
        ("num_parallel_calls", "tf.data tunes its own parallelism"),
        ("shard", "each worker reads its own share of the input"),
        ("file_shard", "each worker reads its own share of the input"),
        ("chief_redundant", "EasyRec's distributed input option"),
        ("pai_worker_queue", "PAI's work queue"),
        ("pai_worker_slice_num", "PAI's work queue"),
        ("feature_fields", "columns of RTP / ODPS inputs"),
        ("rtp_separator", "RTP input only"),
        ("n_data_batch_tfrecord", "TFRecord input only"),
    ):
        src.drop(name, why)
    for name in ("selected_cols", "selected_col_types", "data_compression_type"):
        if src.get(name, str, ""):
            src.fail(name, f"easymtl reads every column of uncompressed files; remove {name}")
    if src.get("auto_expand_input_fields", bool, False):
        src.fail("auto_expand_input_fields", "list the input_fields one by one")
    for name in ("label_sep", "label_dim", "extra_label_func"):
        if src.has(name):
            src.nodes(name)
            src.fail(
                name,
                "multi-value and derived labels are not read by easymtl; remove it "
                "(easymtl's data_config.label_transforms derives 0/1 labels)",
            )
    for name in _SAMPLERS:
        if src.has(name):
            src.nodes(name)
            src.fail(name, "negative sampling (for matching models) is not in easymtl; remove it")
    fields = {}
    for field in src.msgs("input_fields", "data_config.input_fields[{i}]", "DatasetConfig.Field"):
        name, kind = _convert_field(field, data.input_fields.add())
        fields[name] = kind
    src.close()
    return {
        "batch_size": data.batch_size,
        "num_epochs": num_epochs,
        "sample_weight": sample_weight or None,
        "fields": fields,
    }


def _convert_field(src: Src, field) -> tuple[str, str]:
    field.input_name = src.get("input_name", keep="input_name") or ""
    if not field.input_name:
        src.fail("input_name", "EasyRec's required input_name is missing")
    kind = src.get("input_type", FIELD_TYPES, "STRING")
    if kind == "BOOL":
        src.fail("input_type", "BOOL columns are not read by easymtl; use INT32 (0/1) or STRING")
        kind = "STRING"
    field.input_type = data_pb2.FieldType.Value(kind)
    if src.has("input_type"):
        src.keep("input_type")
    default = src.get("default_val", str, "")
    if default:
        field.default_val = default
        src.keep("default_val")
    elif kind != "STRING":
        field.default_val = "0"
        src.say('default_val "0" (EasyRec reads an empty number as 0)')
    for name in ("input_dim", "input_shape"):
        if src.get(name, int, 1) != 1:
            src.fail(name, "multi-dimensional inputs are not read by easymtl; remove it")
    for name in ("user_define_fn", "user_define_fn_path", "user_define_fn_res_type", "ignore_val"):
        if src.has(name):
            src.nodes(name)
            src.fail(name, "input functions are not in easymtl; transform the column beforehand")
    src.close()
    return field.input_name, kind
