"""Runs TorchEasyRec's public configs through easymtl with only their input changed.

Each config gets generated Parquet data with the columns it declares (see
easymtl/testing/tzrec_configs.py), its input paths and ``dataset_type`` rewritten, and is
loaded, trained (one epoch of the generated rows), exported and served with
``saved_model_cli run``. Prints one line per config and the loads / trains / serves
counts of the multi-task and the ranking configs.

    python scripts/tzrec_configs.py --tzrec /path/to/TorchEasyRec [--only multi_task] \
        [--workdir /tmp/tzrec_configs] [--rows 64] [NAME_FILTER ...]
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from easymtl.testing.tzrec_configs import run_config  # noqa: E402

# The multi-task configs of TorchEasyRec's repository (relative paths).
MULTI_TASK = [
    "examples/dbmtl_taobao.config",
    "examples/dbmtl_taobao_jrc.config",
    "examples/dbmtl_taobao_seq.config",
    "examples/mmoe_taobao.config",
    "examples/pepnet_taobao.config",
    "examples/ple_taobao.config",
    "tzrec/benchmark/configs/taobao/dbmtl.config",
    "tzrec/benchmark/configs/taobao/dbmtl_has_sequence.config",
    "tzrec/benchmark/configs/taobao/dbmtl_jrc.config",
    "tzrec/benchmark/configs/taobao/mmoe.config",
    "tzrec/benchmark/configs/taobao/mmoe_has_sequence.config",
    "tzrec/benchmark/configs/taobao/ple.config",
    "tzrec/benchmark/configs/taobao/ple_has_sequence.config",
    "tzrec/benchmark/configs/taobao_ccp/dbmtl.config",
    "tzrec/benchmark/configs/taobao_ccp/mmoe.config",
    "tzrec/benchmark/configs/taobao_ccp/ple.config",
    "tzrec/tests/configs/dbmtl_has_sequence_mock.config",
    "tzrec/tests/configs/dbmtl_has_sequence_mock_focal_loss.config",
    "tzrec/tests/configs/dbmtl_has_sequence_variational_dropout_mock.config",
]

# Ranking (single-task) model oneof names of TorchEasyRec's ModelConfig.
RANKERS = (
    "deepfm", "dcn_v1", "dcn_v2", "dlrm", "masknet", "mask_net", "multi_tower",
    "multi_tower_din", "wide_and_deep", "wukong", "xdeepfm", "rocket_launching", "dat",
    "dlrm_hstu",
)  # fmt: skip


def ranking_configs(root: str) -> list[str]:
    """TorchEasyRec's public configs of a ranking model (examples/, benchmark, tests)."""
    found = []
    pattern = os.path.join(root, "**", "*.config")
    for path in sorted(glob.glob(pattern, recursive=True)):
        rel = os.path.relpath(path, root)
        if rel in MULTI_TASK or "/experiments/" in rel:
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if any(f"\n    {name} {{" in text or f"\n  {name} {{" in text for name in RANKERS):
            found.append(rel)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tzrec", required=True, help="a TorchEasyRec checkout")
    parser.add_argument("--only", choices=("multi_task", "ranking"), default=None)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("filters", nargs="*", help="run only configs whose path holds one")
    args = parser.parse_args()
    groups = {"multi_task": MULTI_TASK, "ranking": ranking_configs(args.tzrec)}
    workdir = args.workdir or tempfile.mkdtemp(prefix="tzrec_configs_")
    counts = {}
    for group, configs in groups.items():
        if args.only and group != args.only:
            continue
        configs = [c for c in configs if not args.filters or any(f in c for f in args.filters)]
        stages = {"loaded": 0, "trained": 0, "served": 0}
        for rel in configs:
            start = time.time()
            work = os.path.join(workdir, rel.replace("/", "+"))
            result = run_config(os.path.join(args.tzrec, rel), work, rows=args.rows)
            for stage in ("loaded", "trained", "served"):
                reached = ("loaded", "trained", "served").index(stage)
                order = ("none", "loaded", "trained", "served").index(result.stage)
                stages[stage] += order > reached
            print(
                f"{result.stage:7s} {time.time() - start:5.0f}s {rel}"
                + (f"  {result.error}" if result.error else ""),
                flush=True,
            )
        counts[group] = (len(configs), stages)
    for group, (n, stages) in counts.items():
        print(
            f"{group}: {n} configs, {stages['loaded']} load, {stages['trained']} train, "
            f"{stages['served']} serve"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
