"""Input throughput: the same rows read as CSV and as Parquet by easymtl.data.build_dataset.

Generates the synthetic Taobao-style sample data (scripts/make_sample_data.py) into a
temporary directory, writes a Parquet copy of it, and reads every column the sample config
uses, a batch at a time, as the runner would: once in evaluation order and once as
training reads it (shuffled, as the config says). Prints rows/sec of each, best and
median of --repeats runs (formats alternate, so that both see the same machine load), and
rows per CPU second of the process, which other load on the machine disturbs less. Each
run includes building the dataset.

The Parquet copy has two layouts: tag lists as list<string> columns (ARRAY_STRING fields,
the Parquet way) and as the CSV's "|"-joined strings (STRING fields).

Example:
    python scripts/bench/input_throughput.py --rows 500000
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from google.protobuf import text_format

from easymtl.config import PipelineConfig
from easymtl.data import build_dataset
from easymtl.features import input_name
from easymtl.protos import data_pb2
from easymtl.testing import csv_to_parquet

ROOT = Path(__file__).resolve().parents[2]


def throughput(data_config, path: str, columns: list[str], batch_size: int, training: bool):
    """(rows/sec, rows per CPU second of this process, rows) of one pass over `path`,
    building the dataset included."""
    start, cpu, rows = time.perf_counter(), time.process_time(), 0
    dataset = build_dataset(data_config, [path], columns, batch_size, training, seed=1)
    for batch in dataset:
        rows += int(batch[columns[0]].shape[0])
    return rows / (time.perf_counter() - start), rows / (time.process_time() - cpu), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000, help="Rows of data.")
    parser.add_argument("--batch_size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3, help="Runs of each; best is kept.")
    parser.add_argument("--config", default=str(ROOT / "samples/configs/mmoe_taobao.config"))
    parser.add_argument("--work_dir", help="Where the data goes. Default: a temporary dir.")
    args = parser.parse_args()

    config = PipelineConfig()
    text_format.Parse(Path(args.config).read_text(), config)
    data = config.data_config
    features = [getattr(f, f.WhichOneof("feature")) for f in config.feature_configs]
    columns = list(dict.fromkeys([*(input_name(f) for f in features), *data.label_fields]))
    lists = [
        input_name(f)
        for f in features
        if "separator" in f.DESCRIPTOR.fields_by_name and f.HasField("separator")
    ]

    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        subprocess.run(
            [sys.executable, str(ROOT / "scripts/make_sample_data.py"), "--out_dir", tmp,
             "--train_rows", str(args.rows), "--eval_rows", "100"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        csv_path = os.path.join(tmp, "taobao_mtl_train.csv")
        readers = {"csv": (data, csv_path)}
        for layout, names in (("lists", lists), ("strings", [])):
            path = os.path.join(tmp, f"train_{layout}.parquet")
            csv_to_parquet(csv_path, list(data.input_fields), path, names)
            parquet = type(data)()
            parquet.CopyFrom(data)
            parquet.dataset_type = data_pb2.ParquetDataset
            for field in parquet.input_fields:
                if field.input_name in names:
                    field.input_type = data_pb2.ARRAY_STRING
            readers[f"parquet ({layout})"] = (parquet, path)

        print(
            f"{args.rows} rows, {len(columns)} columns, batch {args.batch_size}, "
            f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
            f"{args.repeats} runs each: best and median rows/sec, best rows per CPU-second"
        )
        for training in (False, True):
            mode = (
                f"training (shuffle_buffer_size {data.shuffle_buffer_size})"
                if training and data.shuffle
                else "evaluation order"
            )
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in readers}
            for _ in range(args.repeats):
                for name, (data_config, path) in readers.items():
                    wall, cpu, rows = throughput(
                        data_config, path, columns, args.batch_size, training
                    )
                    assert rows == args.rows, (name, rows)
                    runs[name].append((wall, cpu))
            print(f"{mode}:")
            for name, values in runs.items():
                wall, cpu = zip(*values)
                print(
                    f"  {name:<18} {max(wall):>9,.0f} rows/sec "
                    f"(median {statistics.median(wall):>9,.0f})  {max(cpu):>9,.0f} rows/CPU-sec"
                )


if __name__ == "__main__":
    main()
