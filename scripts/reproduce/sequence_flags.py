"""The reference of what the click sequence holds: the same model with three hand-made flags.

Reads the sample data with click sequences (``scripts/make_sample_data.py
--sequence_length 50``) and writes a copy of each split with three more columns, computed
from the candidate's columns and its click sequence:

- ``flag_cate_recent5``: the candidate's cate_id is among the 5 most recent clicks' cate_id;
- ``flag_cate_any``: it is among all of them;
- ``flag_brand_recent10``: the candidate's brand is among the 10 most recent clicks' brand.

It also writes a config: the base config (no sequence group) with the three columns as
input fields, each a raw_feature (0 or 1) in the first feature group. That model is the
reference row of docs/reproductions.md "What a sequence encoder can learn":

    python scripts/make_sample_data.py --out_dir samples/data --sequence_length 50
    python scripts/reproduce/sequence_flags.py \\
        --config samples/configs/mmoe_no_seq_taobao.config \\
        --out_config samples/configs/mmoe_seq_flags_taobao.config
    python -m easymtl.compare --config samples/configs/mmoe_seq_flags_taobao.config \\
        --architectures mmoe --seeds 3 --output_dir /tmp/seq/flags
"""

from __future__ import annotations

import argparse
import os
import sys

from google.protobuf import text_format

FLAGS = (
    # (column, query column, sequence column, most recent items read or None for all)
    ("flag_cate_recent5", "cate_id", "click_50_seq__cate_id", 5),
    ("flag_cate_any", "cate_id", "click_50_seq__cate_id", None),
    ("flag_brand_recent10", "brand", "click_50_seq__brand", 10),
)


def flag_values(cells: dict[str, str], delim: str = "|") -> list[int]:
    """The flags of one row, from its cells by column name."""
    values = []
    for _, query, sequence, window in FLAGS:
        items = cells[sequence].split(delim) if cells[sequence] else []
        items = items[:window] if window is not None else items
        values.append(int(cells[query] in items))
    return values


def flagged_path(path: str) -> str:
    """``x/taobao_mtl_seq_train.csv`` → ``x/taobao_mtl_seq_flags_train.csv``."""
    head, tail = os.path.split(path)
    stem = tail.replace("taobao_mtl_seq_", "taobao_mtl_seq_flags_", 1)
    if stem == tail:
        stem = "flags_" + tail
    return os.path.join(head, stem)


def write_flagged(path: str, out: str, columns: list[str], delimiter: str) -> tuple[int, list]:
    """Copies the CSV at `path` to `out` with the flag columns appended; returns the rows
    and each flag's rate."""
    index = {c: i for i, c in enumerate(columns)}
    wanted = {c for _, q, s, _ in FLAGS for c in (q, s)}
    rows, sums = 0, [0] * len(FLAGS)
    with open(path, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for line in src:
            line = line.rstrip("\n")
            cells = line.split(delimiter)
            values = flag_values({c: cells[index[c]] for c in wanted})
            sums = [a + b for a, b in zip(sums, values)]
            rows += 1
            dst.write(line + "".join(f"{delimiter}{v}" for v in values) + "\n")
    return rows, [s / max(rows, 1) for s in sums]


def flags_config(config, out_config: str):
    """The config of the reference model: `config` reading the flagged files, with the
    flags as raw features of its first feature group."""
    from easymtl.protos import data_pb2

    config.train_input_path = flagged_path(config.train_input_path)
    config.eval_input_path = flagged_path(config.eval_input_path)
    config.model_dir = os.path.join(
        os.path.dirname(config.model_dir), os.path.splitext(os.path.basename(out_config))[0]
    )
    for column, *_ in FLAGS:
        field = config.data_config.input_fields.add()
        field.input_name = column
        field.input_type = data_pb2.INT32
        fc = config.feature_configs.add()
        fc.raw_feature.feature_name = column
        config.model_config.feature_groups[0].feature_names.append(column)
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="The base config (no sequence group).")
    parser.add_argument("--out_config", required=True, help="Where the reference config goes.")
    args = parser.parse_args(argv)

    from easymtl.config import load_config
    from easymtl.errors import EasymtlError

    try:
        config = load_config(args.config)
    except EasymtlError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    columns = [f.input_name for f in config.data_config.input_fields]
    missing = [c for _, q, s, _ in FLAGS for c in (q, s) if c not in columns]
    if missing:
        print(f"error: {args.config}: no input field {missing[0]!r}", file=sys.stderr)
        return 2
    for source in (config.train_input_path, config.eval_input_path):
        if not os.path.isfile(source):
            print(
                f"error: {source}: not found; make it with scripts/make_sample_data.py "
                "--sequence_length 50",
                file=sys.stderr,
            )
            return 2
        rows, rates = write_flagged(
            source, flagged_path(source), columns, config.data_config.delimiter or ","
        )
        shown = ", ".join(f"{c}={r:.3f}" for (c, *_), r in zip(FLAGS, rates))
        print(f"{flagged_path(source)}: {rows} rows, {shown}")
    out = flags_config(config, args.out_config)
    with open(args.out_config, "w", encoding="utf-8") as f:
        f.write(
            f"# Written by scripts/reproduce/sequence_flags.py from {args.config}: the same\n"
            "# model with three hand-made flags of the click sequence as raw features (the\n"
            "# reference of what the sequence holds, docs/reproductions.md).\n"
        )
        f.write(text_format.MessageToString(out))
    print(f"wrote {args.out_config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
