"""easymtl's rankers against DeepCTR 0.9.4's models of the same name, on the same data,
sizes and epoch: DeepFM, xDeepFM, DCN (dcn_v1) and WDL (wide_and_deep).

For each seed and model, easymtl's run and DeepCTR's alternate (the order flips with the
seed), each in a process of its own at the priority this script runs at, so that both
see the same load; each line of `--out` is one run (AUC on the eval rows, training
rows/sec of the one epoch and its CPU time per 1,000 rows, the steadier figure on a
shared machine; the load average when it ended). ``--report`` prints the
markdown table of docs/reproductions.md from that file.

Data: ``criteo`` (scripts/make_criteo_data.py: 13 dense + 26 categorical columns; made
into --data_dir if missing), ``taobao`` (the bundled sample, its 15 single-valued ids
and the bucketized price; the tag lists are left out, as DeepCTR would need them padded)
or ``census`` (UCI Census-Income (KDD) from --census_dir, label income > 50K: the 32
categorical and 7 numeric columns that samples/configs/census_group1_mmoe.config reads
but marital status, the numbers as log(1 + x); written as CSV into --data_dir once).
Both sides: embedding_dim 16, deep MLP [256, 128, 64], Adam 0.001 on every weight
(easymtl: lazy Adam on the embedding rows a batch touched), batch 512, one epoch.
DeepCTR's peer is scripts/reproduce/deepctr_rankers_peer.py in its own virtualenv
(docs/performance.md makes it; --peer_venv).

Example:
    nice -n 10 python scripts/reproduce/rankers_vs_deepctr.py --data criteo \\
        --out /tmp/rankers_criteo.jsonl --peer_venv /tmp/easymtl_bench/peer_venv
    python scripts/reproduce/rankers_vs_deepctr.py --report /tmp/rankers_criteo.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = {"deepfm": "deepfm", "xdeepfm": "xdeepfm", "dcn": "dcn_v1", "wdl": "wide_and_deep"}
DEEP = [256, 128, 64]
CIN = [32, 32]
CROSS_NUM = 3
FINAL = "32"  # DCN's and xDeepFM's final MLP (TorchEasyRec's needs one)
EMBEDDING_DIM = 16
BATCH_SIZE = 512
LR = 0.001
DEFAULT_SPARSE = f"adam:{LR}"  # easymtl's sparse optimizer:lr in the comparison

TAOBAO_COLUMNS = [
    "clk", "buy", "pid", "adgroup_id", "cate_id", "campaign_id", "customer", "brand",
    "user_id", "cms_segid", "cms_group_id", "final_gender_code", "age_level",
    "pvalue_level", "shopping_level", "occupation", "new_user_class_level",
    "tag_category_list", "tag_brand_list", "price",
]  # fmt: skip
TAOBAO_IDS = TAOBAO_COLUMNS[2:17]
PRICE_BOUNDARIES = [10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000]


# The UCI files' columns, named as samples/configs/census_group1_mmoe.config names them.
CENSUS_COLUMNS = [
    "age", "class_worker", "det_ind_code", "det_occ_code", "education", "wage_per_hour",
    "hs_college", "marital_stat", "major_ind_code", "major_occ_code", "race", "hisp_origin",
    "sex", "union_member", "unemp_reason", "full_or_part_emp", "capital_gains",
    "capital_losses", "stock_dividends", "tax_filer_stat", "region_prev_res",
    "state_prev_res", "det_hh_fam_stat", "det_hh_summ", "instance_weight", "mig_chg_msa",
    "mig_chg_reg", "mig_move_reg", "mig_same", "mig_prev_sunbelt", "num_emp",
    "fam_under_18", "country_father", "country_mother", "country_self", "citizenship",
    "own_or_self", "vet_question", "vet_benefits", "weeks_worked", "year", "income_50k",
]  # fmt: skip
CENSUS_DENSE = [
    "age", "wage_per_hour", "capital_gains", "capital_losses", "stock_dividends", "num_emp",
    "weeks_worked",
]  # fmt: skip
CENSUS_SPARSE = [
    c for c in CENSUS_COLUMNS
    if c not in CENSUS_DENSE and c not in ("marital_stat", "instance_weight", "income_50k")
]  # fmt: skip


def write_census(census_dir: str, data_dir: str) -> None:
    """census_train.csv and census_eval.csv in `data_dir` from the UCI files in
    `census_dir` (plain or gzipped): the label (income > 50K, 1 or 0), the categorical
    cells (leading spaces stripped) and the numbers as log(1 + x), which both sides read
    as they are."""
    import csv
    import gzip
    import math

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from census_income import find_file

    os.makedirs(data_dir, exist_ok=True)
    for stem, name in (("census-income.data", "train"), ("census-income.test", "eval")):
        path = find_file(census_dir, stem)
        opener = gzip.open if path.endswith(".gz") else open
        out = os.path.join(data_dir, f"census_{name}.csv")
        with opener(path, "rt") as f, open(out + ".part", "w", newline="") as g:
            writer = csv.writer(g)
            for row in csv.reader(f, skipinitialspace=True):
                cells = dict(zip(CENSUS_COLUMNS, row, strict=True))
                label = int(cells["income_50k"] == "50000+.")
                dense = [f"{math.log1p(float(cells[c])):.6g}" for c in CENSUS_DENSE]
                writer.writerow([label, *(cells[c] for c in CENSUS_SPARSE), *dense])
        os.replace(out + ".part", out)


def data_spec(data: str, data_dir: str) -> dict:
    """Files, columns and the roles of the columns of a data set."""
    if data == "census":
        return {
            "train": os.path.join(data_dir, "census_train.csv"),
            "eval": os.path.join(data_dir, "census_eval.csv"),
            "columns": ["income", *CENSUS_SPARSE, *CENSUS_DENSE],
            "label": "income",
            "sparse": CENSUS_SPARSE,
            "bucketized": {},
            "dense": CENSUS_DENSE,
            "types": {"income": "INT32", **{c: "DOUBLE" for c in CENSUS_DENSE}},
            "hash_bucket_size": 1000,
        }
    if data == "taobao":
        samples = os.path.join(ROOT, "samples", "data")
        return {
            "train": os.path.join(samples, "taobao_mtl_train.csv"),
            "eval": os.path.join(samples, "taobao_mtl_eval.csv"),
            "columns": TAOBAO_COLUMNS,
            "label": "clk",
            "sparse": TAOBAO_IDS,
            "bucketized": {"price": PRICE_BOUNDARIES},
            "dense": [],
            "types": {"clk": "INT32", "buy": "INT32", "price": "INT64"},
            "hash_bucket_size": 100000,
        }
    from make_criteo_data import NUM_DENSE, NUM_SPARSE, columns

    return {
        "train": os.path.join(data_dir, "criteo_train.csv"),
        "eval": os.path.join(data_dir, "criteo_eval.csv"),
        "columns": columns(),
        "label": "label",
        "sparse": [f"cat_{i}" for i in range(NUM_SPARSE)],
        "bucketized": {},
        "dense": [f"int_{i}" for i in range(NUM_DENSE)],
        "types": {"label": "INT32", **{f"int_{i}": "DOUBLE" for i in range(NUM_DENSE)}},
        "hash_bucket_size": 20000,
    }


def easymtl_config(
    spec: dict,
    model: str,
    seed: int,
    model_dir: str,
    sparse_optimizer: str = "adam_optimizer",
    lr=LR,
    init_fn: str = "",
    default_value: str | None = None,
    wide_init_fn: str = "",
    final: str = FINAL,
) -> str:
    """The pipeline config (protobuf text) of easymtl's side, its embeddings trained by
    `sparse_optimizer` (a SparseOptimizer field) at `lr`, initialized by `init_fn`
    (TorchEasyRec's, e.g. "nn.init.normal_,std=0.0001"; default easymtl's); with
    `default_value`, each id feature's (an empty cell is that id); `wide_init_fn`:
    xdeepfm's (unset: easymtl's default); `final`: the hidden units of DCN's and
    xDeepFM's final MLP."""
    init = f' init_fn: "{init_fn}"' if init_fn else ""
    default = f' default_value: "{default_value}"' if default_value is not None else ""
    inputs = "".join(
        f'    input_fields {{ input_name: "{c}" input_type: {spec["types"].get(c, "STRING")} }}\n'
        for c in spec["columns"]
    )
    features = ""
    for name in spec["sparse"]:
        features += (
            f'feature_configs {{ id_feature {{ feature_name: "{name}" expression: "item:{name}" '
            f"hash_bucket_size: {spec['hash_bucket_size']} embedding_dim: {EMBEDDING_DIM}"
            f"{init}{default} }} }}\n"
        )
    for name, boundaries in spec["bucketized"].items():
        features += (
            f'feature_configs {{ raw_feature {{ feature_name: "{name}" expression: "item:{name}" '
            f"boundaries: {boundaries} embedding_dim: {EMBEDDING_DIM}{init} }} }}\n"
        )
    for name in spec["dense"]:
        raw = f'raw_feature {{ feature_name: "{name}" expression: "item:{name}" }}'
        features += f"feature_configs {{ {raw} }}\n"
    sparse = spec["sparse"] + list(spec["bucketized"])
    every = spec["dense"] + sparse

    def group(name, names, kind="DEEP"):
        listed = " ".join(f'feature_names: "{n}"' for n in names)
        return f'feature_groups {{ group_name: "{name}" {listed} group_type: {kind} }}\n'

    deep = f"deep {{ hidden_units: {DEEP} }}"
    final_mlp = f"final {{ hidden_units: [{final}] }}"
    kind = MODELS[model]
    if model == "deepfm":
        groups = group("wide", every, "WIDE") + group("fm", sparse) + group("deep", every)
        block = f"deepfm {{ {deep} }}"
    elif model == "wdl":
        groups = group("wide", every, "WIDE") + group("deep", every)
        block = f"wide_and_deep {{ {deep} }}"
    elif model == "xdeepfm":
        groups = group("wide", sparse, "WIDE") + group("deep", every)
        block = (
            f"xdeepfm {{ cin {{ cin_layer_size: {CIN} }} {deep} {final_mlp} "
            f"wide_embedding_dim: {EMBEDDING_DIM}"
            + (f' wide_init_fn: "{wide_init_fn}"' if wide_init_fn else "")
            + " }"
        )
    else:
        groups = group("all", every)
        block = f"dcn_v1 {{ cross {{ cross_num: {CROSS_NUM} }} {deep} {final_mlp} }}"
    assert kind in block
    return f"""
train_input_path: "{spec["train"]}"
eval_input_path: "{spec["eval"]}"
model_dir: "{model_dir}"
train_config {{
    sparse_optimizer {{ {sparse_optimizer} {{ lr: {lr} }} }}
    dense_optimizer {{ adam_optimizer {{ lr: {LR} }} }}
    num_epochs: 1
    seed: {seed}
    save_checkpoints_steps: 1000000
    log_step_count_steps: 1000
    use_tensorboard: false
}}
export_config {{ export_after_train: false }}
data_config {{
    batch_size: {BATCH_SIZE}
    eval_batch_size: 4096
    dataset_type: CsvDataset
    label_fields: "{spec["label"]}"
    shuffle: true
    shuffle_buffer_size: 200000
{inputs}}}
{features}
model_config {{
{groups}    {block}
    losses {{ binary_cross_entropy {{}} }}
    metrics {{ auc {{ thresholds: 20000 }} }}
}}
"""


def dense_adam(self, grads, tables, step) -> None:
    """DeepCTR's (Keras's) Adam on embedding tables, for the experiment
    `--easymtl_dense_adam`: every row's moments decay at each step and every row moves
    by its momentum, where easymtl's (TorchEasyRec's) lazy Adam moves only the rows a
    batch holds. Replaces ``RowWiseOptimizer.apply`` in the easymtl process."""
    import tensorflow as tf

    lr = self.lr(step)
    t = tf.cast(step, tf.float32) + 1.0
    lr_t = lr * tf.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
    for grad, table, (m, v) in zip(grads, tables, self.slots, strict=True):
        if grad is None:
            continue
        m.assign(self.beta1 * m)
        m.scatter_add(tf.IndexedSlices((1 - self.beta1) * grad.values, grad.indices))
        v.assign(self.beta2 * v)
        rows, summed = tf.unique(grad.indices)
        values = tf.math.unsorted_segment_sum(grad.values, summed, tf.shape(rows)[0])
        v.scatter_add(tf.IndexedSlices((1 - self.beta2) * values * values, rows))
        table.assign_sub(lr_t * m / (tf.sqrt(v) + self.epsilon))


def run_easymtl(
    config_path: str,
    dense: bool = False,
    output_bias: bool = False,
    no_final: bool = False,
    cin_reads_deep: bool = False,
) -> dict:
    """(In a process of its own.) Trains one epoch, evaluates; the figures as a dict.
    With `dense`, the embeddings' Adam is :func:`dense_adam`; with `output_bias`, the
    linear output of DCN (TorchEasyRec's: without bias) has one, as DeepCTR's; with
    `no_final`, DCN's cross and deep outputs (xDeepFM's CIN and deep outputs) reach that
    output directly, without TorchEasyRec's `final` MLP between (DeepCTR's structure);
    with `cin_reads_deep`, xDeepFM's CIN reads the deep group's id embeddings, the deep
    MLP's own (DeepCTR's structure), instead of the wide ones."""
    from easymtl.config import load_config
    from easymtl.layers.rank_head import BlockRanker
    from easymtl.optimizers import RowWiseOptimizer
    from easymtl.runner import Runner

    if dense:
        RowWiseOptimizer.apply = dense_adam
    if no_final:
        from keras import ops

        from easymtl.layers.dcn import DCN

        def build(self, input_shape):
            self.cross.build(tuple(input_shape))
            self.deep.build(tuple(input_shape))

        def call(self, inputs, training=None):
            deep = self.deep(inputs, training=training)
            return ops.concatenate([self.cross(inputs), deep], axis=-1)

        def output_shape(self, input_shape):
            width = input_shape[-1] + self.deep_mlp["hidden_units"][-1]
            return tuple(input_shape)[:-1] + (width,)

        DCN.build, DCN.call, DCN.compute_output_shape = build, call, output_shape
    if cin_reads_deep or no_final:
        from keras import ops

        from easymtl.layers.xdeepfm import XDeepFM

        built = XDeepFM.build

        def xdeepfm_build(self, input_shape):
            if not no_final:
                return built(self, input_shape)
            # The output reads [CIN, deep] itself, as DeepCTR sums their logits.
            fields = input_shape[self.wide_group][-1] // self.field_dim
            self.cin.build((None, fields, self.field_dim))
            self.deep.build(tuple(input_shape[self.deep_group]))
            width = sum(self.cin_layer_size) + self.deep_mlp["hidden_units"][-1]
            self.output_layer.build((None, width))

        def xdeepfm_call(self, groups, training=None):
            fields = groups[self.wide_group].shape[-1] // self.field_dim
            cin_in = (  # the deep group lists the dense features first, then the ids
                groups[self.deep_group][:, -fields * self.field_dim :]
                if cin_reads_deep
                else groups[self.wide_group]
            )
            cin = self.cin(ops.reshape(cin_in, (-1, fields, self.field_dim)))
            x = ops.concatenate([cin, self.deep(groups[self.deep_group], training=training)], -1)
            if not no_final:
                x = self.final(x, training=training)
            return {"": self.output_layer(x)}

        XDeepFM.build, XDeepFM.call = xdeepfm_build, xdeepfm_call
    if output_bias:
        init = BlockRanker.__init__
        BlockRanker.__init__ = lambda self, *a, **k: init(self, *a, **{**k, "use_bias": True})
    runner = Runner(load_config(config_path))
    start, cpu = time.perf_counter(), time.process_time()
    runner.train()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    result = runner.evaluate()
    with open(runner.config.train_input_path) as f:
        rows = sum(1 for _ in f)
    return {"auc": result["auc"], "rows": rows, "train_seconds": seconds, "cpu_seconds": cpu}


def peer_spec(spec: dict, model: str, seed: int) -> dict:
    return {
        **{k: spec[k] for k in ("train", "eval", "columns", "label", "sparse", "dense")},
        "bucketized": spec["bucketized"],
        "model": model,
        "deep": DEEP,
        "cin_layer_size": CIN,
        "cross_num": CROSS_NUM,
        "embedding_dim": EMBEDDING_DIM,
        "batch_size": BATCH_SIZE,
        "lr": LR,
        "seed": seed,
    }


def one_run(side: str, spec: dict, model: str, seed: int, args) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if side == "easymtl":
        work = tempfile.mkdtemp(prefix="rankers_")
        path = os.path.join(work, "pipeline.config")
        with open(path, "w") as f:
            sparse, _, lr = args.easymtl_sparse.partition(":")
            model_dir = os.path.join(work, "model")
            f.write(
                easymtl_config(
                    spec,
                    model,
                    seed,
                    model_dir,
                    f"{sparse}_optimizer",
                    float(lr),
                    args.easymtl_init_fn,
                    args.easymtl_default_value,
                    args.easymtl_wide_init_fn,
                    args.easymtl_final,
                )
            )
        cmd = [sys.executable, __file__, "--part", path]
        if args.easymtl_dense_adam:
            cmd.append("--easymtl_dense_adam")
        if args.easymtl_output_bias:
            cmd.append("--easymtl_output_bias")
        if args.easymtl_no_final:
            cmd.append("--easymtl_no_final")
        if args.easymtl_cin_reads_deep:
            cmd.append("--easymtl_cin_reads_deep")
    else:
        env["TF_USE_LEGACY_KERAS"] = "1"
        peer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deepctr_rankers_peer.py")
        python = os.path.join(args.peer_venv, "bin", "python")
        peer_args = peer_spec(spec, model, seed)
        peer_args["l2_reg_embedding"] = args.deepctr_l2_reg_embedding
        peer_args["no_linear"] = args.deepctr_no_linear
        cmd = [python, peer, "--spec", json.dumps(peer_args)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if side == "easymtl":
        shutil.rmtree(work, ignore_errors=True)  # the figures are in its stdout
    if out.returncode != 0:
        raise SystemExit(f"{side} {model} seed {seed} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(side=side, model=model, seed=seed, load=os.getloadavg()[0])
    variant = [  # easymtl's settings other than the comparison's own, in its side's name
        args.easymtl_sparse if args.easymtl_sparse != DEFAULT_SPARSE else "",
        args.easymtl_init_fn,
        "dense Adam" if args.easymtl_dense_adam else "",
        "output bias" if args.easymtl_output_bias else "",
        "no final MLP" if args.easymtl_no_final else "",
        "CIN over the deep embeddings" if args.easymtl_cin_reads_deep else "",
        f"xdeepfm wide_init_fn {args.easymtl_wide_init_fn!r}" if args.easymtl_wide_init_fn else "",
        f"default_value {args.easymtl_default_value!r}"
        if args.easymtl_default_value is not None
        else "",
        f"{args.hash_bucket_size} buckets" if args.hash_bucket_size else "",
        f"final [{args.easymtl_final}]" if args.easymtl_final != FINAL else "",
    ]
    if side == "easymtl" and any(variant):
        result["side"] = f"easymtl ({', '.join(v for v in variant if v)})"
    if side == "deepctr" and args.deepctr_l2_reg_embedding is not None:
        result["side"] = f"DeepCTR (l2_reg_embedding={args.deepctr_l2_reg_embedding:g})"
    if side == "deepctr" and args.deepctr_no_linear:
        result["side"] = "DeepCTR (without its linear logit)"
    result["examples_per_sec"] = result["rows"] / result["train_seconds"]
    if "cpu_seconds" in result:
        result["cpu_ms_per_1k"] = 1e6 * result["cpu_seconds"] / result["rows"]
    return result


def report(path: str) -> str:
    with open(path) as f:
        runs = [json.loads(line) for line in f]
    lines = [
        "| model | easymtl AUC | DeepCTR AUC | Δ AUC | easymtl ex/s | DeepCTR ex/s "
        "(with its read) | CPU ms / 1k ex. (easymtl, DeepCTR) | load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in MODELS:
        by = {
            s: [r for r in runs if r["model"] == model and r["side"] == s]
            for s in ("easymtl", "deepctr")
        }
        if not by["easymtl"] or not by["deepctr"]:
            continue
        aucs = {s: [r["auc"] for r in v] for s, v in by.items()}
        speed = {s: statistics.median(r["examples_per_sec"] for r in v) for s, v in by.items()}
        with_read = statistics.median(
            r["rows"] / (r["train_seconds"] + r.get("read_seconds", 0.0)) for r in by["deepctr"]
        )
        loads = [r["load"] for v in by.values() for r in v]

        def cell(values):
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):.4f} ± {sd:.4f}"

        delta = statistics.mean(aucs["easymtl"]) - statistics.mean(aucs["deepctr"])
        cpu = {
            s: statistics.median(r["cpu_ms_per_1k"] for r in v)
            if all("cpu_ms_per_1k" in r for r in v)
            else None
            for s, v in by.items()
        }
        cpu_cell = (
            f"{cpu['easymtl']:.0f}, {cpu['deepctr']:.0f}" if None not in cpu.values() else "–"
        )
        lines.append(
            f"| {model} ({MODELS[model]}) | {cell(aucs['easymtl'])} | {cell(aucs['deepctr'])} | "
            f"{delta:+.4f} | {speed['easymtl']:,.0f} | {speed['deepctr']:,.0f} "
            f"({with_read:,.0f}) | {cpu_cell} | "
            f"{min(loads):.1f}–{max(loads):.1f} |"
        )
    variants = sorted({r["side"] for r in runs} - {"easymtl", "deepctr"})
    for variant in variants:
        for model in MODELS:
            mine = [r for r in runs if r["model"] == model and r["side"] == variant]
            if mine:
                aucs = [r["auc"] for r in mine]
                sd = statistics.stdev(aucs) if len(aucs) > 1 else 0.0
                speed = statistics.median(r["examples_per_sec"] for r in mine)
                lines.append(
                    f"| {model} with {variant} | {statistics.mean(aucs):.4f} ± {sd:.4f} | | | "
                    f"{speed:,.0f} | | | |"
                )
    seeds = sorted({r["seed"] for r in runs})
    lines.append(f"\n{len(runs)} runs, seeds {seeds}.")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", choices=("criteo", "taobao", "census"), default="criteo")
    p.add_argument(
        "--data_dir",
        help="Where the Criteo-style or census CSV files are (made if missing; default "
        "<tmp>/easymtl_criteo, <tmp>/easymtl_census).",
    )
    p.add_argument(
        "--census_dir", help="The UCI Census-Income (KDD) files (census-income.data[.gz], .test)."
    )
    p.add_argument("--train_rows", type=int, default=100000, help="Criteo-style rows made.")
    p.add_argument("--eval_rows", type=int, default=25000)
    p.add_argument("--models", default=",".join(MODELS), help="Of " + ", ".join(MODELS))
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument(
        "--peer_venv", default=os.path.join(tempfile.gettempdir(), "easymtl_bench", "peer_venv")
    )
    p.add_argument("--sides", default="easymtl,deepctr", help="Which contenders run.")
    p.add_argument(
        "--easymtl_sparse",
        default=DEFAULT_SPARSE,
        help="easymtl's sparse optimizer and lr, e.g. adagrad:0.1 (the samples'); its runs "
        "are reported as a side of their own",
    )
    p.add_argument(
        "--hash_bucket_size",
        type=int,
        help="easymtl's buckets per id feature (default: the data's, Taobao 100,000)",
    )
    p.add_argument(
        "--easymtl_init_fn",
        default="",
        help='init_fn of easymtl\'s embedding tables (e.g. "nn.init.normal_,std=0.0001", '
        "DeepCTR's init); its runs are reported as a side of their own",
    )
    p.add_argument(
        "--deepctr_l2_reg_embedding",
        type=float,
        help="DeepCTR's L2 weight on its embedding tables (default: its own, 1e-5); its "
        "runs are reported as a side of their own",
    )
    p.add_argument(
        "--deepctr_no_linear",
        action="store_true",
        help="DeepCTR's DCN and xDeepFM without the linear logit they add over the sparse "
        "features (TorchEasyRec's have none); its runs are reported as a side of their own",
    )
    p.add_argument(
        "--easymtl_dense_adam",
        action="store_true",
        help="easymtl's embeddings trained by DeepCTR's dense Adam (every row moves by its "
        "momentum at every step) instead of its lazy one (an experiment; easymtl has no "
        "such option); its runs are reported as a side of their own",
    )
    p.add_argument(
        "--easymtl_output_bias",
        action="store_true",
        help="a bias in the linear output of easymtl's DCN (TorchEasyRec's has none, "
        "DeepCTR's has one; an experiment); its runs are reported as a side of their own",
    )
    p.add_argument(
        "--easymtl_no_final",
        action="store_true",
        help="easymtl's DCN and xDeepFM without TorchEasyRec's final MLP (DeepCTR's structure; an "
        "experiment); its runs are reported as a side of their own",
    )
    p.add_argument(
        "--easymtl_final",
        default=FINAL,
        help="hidden units of easymtl's DCN and xDeepFM's final MLP, comma-separated "
        "(default %(default)s); other values are reported as a side of their own",
    )
    p.add_argument(
        "--easymtl_cin_reads_deep",
        action="store_true",
        help="easymtl's xDeepFM with its CIN over the deep MLP's id embeddings instead of "
        "TorchEasyRec's wide ones (DeepCTR's structure; an experiment); its runs are "
        "reported as a side of their own",
    )
    p.add_argument(
        "--easymtl_default_value",
        help="default_value of easymtl's id features: an empty cell is this id, with a "
        "trained row (as DeepCTR's missing cell, code 0); its runs are reported as a side "
        "of their own",
    )
    p.add_argument(
        "--easymtl_wide_init_fn",
        default="",
        help="wide_init_fn of easymtl's xdeepfm (its CIN reads the wide embeddings; unset: "
        "each starts as its feature's table); its runs are reported as a side of their own",
    )
    p.add_argument("--out", help="JSON lines, one per run (appended).")
    p.add_argument("--report", help="Print the table of this --out file and exit.")
    p.add_argument("--part", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.part:
        flags = (
            args.easymtl_dense_adam,
            args.easymtl_output_bias,
            args.easymtl_no_final,
            args.easymtl_cin_reads_deep,
        )
        print(json.dumps(run_easymtl(args.part, *flags)))
        return
    if args.report:
        print(report(args.report))
        return
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    args.data_dir = args.data_dir or os.path.join(tempfile.gettempdir(), f"easymtl_{args.data}")
    if args.data == "census" and not os.path.exists(os.path.join(args.data_dir, "census_eval.csv")):
        if not args.census_dir:
            raise SystemExit("--data census: --census_dir is required (the UCI files)")
        write_census(args.census_dir, args.data_dir)
    if args.data == "criteo" and not os.path.exists(
        os.path.join(args.data_dir, "criteo_train.csv")
    ):
        subprocess.run(
            [sys.executable, os.path.join(ROOT, "scripts", "make_criteo_data.py"),
             "--out_dir", args.data_dir, "--train_rows", str(args.train_rows),
             "--eval_rows", str(args.eval_rows)],
            check=True,
        )  # fmt: skip
    spec = data_spec(args.data, args.data_dir)
    if args.hash_bucket_size:
        spec["hash_bucket_size"] = args.hash_bucket_size
    for seed in (int(s) for s in args.seeds.split(",")):
        for model in args.models.split(","):
            sides = ("easymtl", "deepctr") if seed % 2 else ("deepctr", "easymtl")
            for side in (s for s in sides if s in args.sides.split(",")):
                result = one_run(side, spec, model, seed, args)
                result["data"] = args.data
                print(json.dumps(result), flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
