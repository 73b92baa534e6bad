"""The MMoE paper's synthetic experiment (Ma et al., KDD 2018, section 4), through easymtl.

Two regression tasks whose correlation is set by p: orthogonal unit vectors u1, u2 in R^d,
w1 = c·u1, w2 = c·(p·u1 + sqrt(1 − p²)·u2), x ~ N(0, I), and
y_k = w_kᵀx + Σ_{i=1..m} sin(α_i·w_kᵀx + β_i) + ε_k, with α, β drawn once per data set and
shared by both tasks. Shared-Bottom, OMoE (MMoE with one shared gate) and MMoE are
trained on it as ordinary easymtl configs (regression towers, l2_loss) over several seeds
per correlation, each seed a new data set and a new initialization; the script plots the
training loss curves and the distribution of the final losses.

    python scripts/reproduce/mmoe_synthetic.py --output_dir runs/mmoe_synthetic

Default size: 3 correlations × 3 models × 3 seeds of 1,000 steps (about 15 minutes on 2
CPU cores). Larger: --seeds 20 --num_steps 5000 --train_rows 100000.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import time

import numpy as np

MODELS = ("shared_bottom", "omoe", "mmoe")


def task_parameters(p: float, rng: np.random.Generator, d=100, c=1.0, m=10, alpha_std=1.0):
    """(w1, w2, alpha, beta) of one synthetic data set: w1, w2 of cosine p and norm c.

    The paper leaves how α and β are drawn; here α ~ N(0, alpha_std²), β ~ N(0, 1).
    """
    q, _ = np.linalg.qr(rng.standard_normal((d, 2)))
    u1, u2 = q[:, 0], q[:, 1]
    w1 = c * u1
    w2 = c * (p * u1 + np.sqrt(1.0 - p * p) * u2)
    return w1, w2, alpha_std * rng.standard_normal(m), rng.standard_normal(m)


def sample(params, num_rows: int, rng: np.random.Generator, noise: float = 0.1):
    """(x [n, d], y [n, 2], linear parts wᵀx [n, 2]) drawn from `params`."""
    w1, w2, alpha, beta = params
    x = rng.standard_normal((num_rows, len(w1)))
    linear = np.stack([x @ w1, x @ w2], axis=1)
    waves = np.sin(linear[:, :, None] * alpha + beta).sum(axis=2)
    y = linear + waves + noise * rng.standard_normal(linear.shape)
    return x, y, linear


def write_csv(path: str, x: np.ndarray, y: np.ndarray) -> None:
    np.savetxt(path, np.concatenate([y, x], axis=1), fmt="%.5f", delimiter=",")


def model_block(model: str, experts: int, expert_units: int, bottom_units: int) -> str:
    """The model_config entry: Shared-Bottom, or MMoE with per-task gates or one gate."""
    towers = "".join(
        f'task_towers {{ tower_name: "{t}" label_name: "{t}" mlp {{ hidden_units: [8] }} '
        "losses { l2_loss {} } metrics { mean_squared_error {} } }"
        for t in ("y1", "y2")
    )
    if model == "shared_bottom":
        return f"shared_bottom {{ bottom_mlp {{ hidden_units: [{bottom_units}] }} {towers} }}"
    share = "true" if model == "omoe" else "false"
    return (
        f"mmoe {{ expert_mlp {{ hidden_units: [{expert_units}] }} num_expert: {experts} "
        f"share_gate: {share} {towers} }}"
    )


def pipeline_config(args, model: str, data_dir: str, model_dir: str, seed: int):
    """The easymtl PipelineConfig of one run."""
    from google.protobuf import text_format

    from easymtl.config import PipelineConfig, validate

    d = args.dim
    fields = ['input_fields { input_name: "y1" input_type: FLOAT }']
    fields += ['input_fields { input_name: "y2" input_type: FLOAT }']
    fields += [f'input_fields {{ input_name: "x{i}" input_type: FLOAT }}' for i in range(d)]
    features = "".join(
        f'feature_configs {{ raw_feature {{ feature_name: "x{i}" }} }}' for i in range(d)
    )
    names = ", ".join(f'"x{i}"' for i in range(d))
    text = f"""
        train_input_path: "{data_dir}/train.csv"
        eval_input_path: "{data_dir}/eval.csv"
        model_dir: "{model_dir}"
        train_config {{
            dense_optimizer {{ adam_optimizer {{ lr: {args.lr} }} constant_learning_rate {{}} }}
            num_steps: {args.num_steps} log_step_count_steps: {args.log_steps}
            save_checkpoints_steps: {args.num_steps} use_tensorboard: false seed: {seed}
        }}
        data_config {{
            batch_size: {args.batch_size} shuffle: true label_fields: ["y1", "y2"]
            {" ".join(fields)}
        }}
        {features}
        model_config {{
            feature_groups {{ group_name: "x" feature_names: [{names}] }}
            {model_block(model, args.experts, args.expert_units, args.bottom_units)}
        }}
    """
    config = text_format.Parse(text, PipelineConfig())
    validate(config)
    return config


def in_memory_runner(train: dict, evaluate: dict):
    """A Runner class whose datasets are `train` / `eval` arrays ({column: [n]}) in
    memory, shuffled per epoch and batched as the config says: the same rows as the CSV
    files without parsing 102 CSV columns a row, which costs more than the step."""
    import tensorflow as tf

    from easymtl.data import BAD_ROWS
    from easymtl.runner import Runner

    class InMemoryRunner(Runner):
        def build_dataset(self, training: bool, epoch: int = 0) -> tf.data.Dataset:
            arrays = train if training else evaluate
            data = self.config.data_config
            size = data.batch_size if training else (data.eval_batch_size or data.batch_size)
            n = len(next(iter(arrays.values())))
            order = np.random.default_rng(self.seed + epoch).permutation(n) if training else None
            columns = self.inputs.input_names + self.inputs.label_names
            batches = [
                {
                    c: arrays[c][order[i : i + size] if training else slice(i, i + size)]
                    for c in columns
                }
                for i in range(0, n, size)
            ]
            return tf.data.Dataset.from_generator(
                lambda: ({**b, BAD_ROWS: np.int64(0)} for b in batches),
                output_signature={
                    **{c: tf.TensorSpec([None], tf.float32) for c in columns},
                    BAD_ROWS: tf.TensorSpec([], tf.int64),
                },
            )

    return InMemoryRunner


def columns(x: np.ndarray, y: np.ndarray) -> dict:
    arrays = {f"x{i}": x[:, i].astype("float32") for i in range(x.shape[1])}
    return {"y1": y[:, 0].astype("float32"), "y2": y[:, 1].astype("float32"), **arrays}


def run_all(args) -> list[dict]:
    """Every (correlation, seed, model) run; returns one result dict per run."""
    import keras

    from easymtl.runner import Runner

    results = []
    total = len(args.correlations) * args.seeds * len(MODELS)
    for p in args.correlations:
        for seed in range(args.seeds):
            rng = np.random.default_rng([seed, int(round(p * 1000))])
            params = task_parameters(p, rng, args.dim, args.c, args.m, args.alpha_std)
            data_dir = os.path.join(args.output_dir, "data", f"p{p}_seed{seed}")
            os.makedirs(data_dir, exist_ok=True)
            arrays = {}
            for name, rows in (("train", args.train_rows), ("eval", args.eval_rows)):
                x, y, _ = sample(params, rows, rng, args.noise)
                write_csv(os.path.join(data_dir, f"{name}.csv"), x, y)
                arrays[name] = columns(x, y)
            runner_class = (
                Runner if args.from_csv else in_memory_runner(arrays["train"], arrays["eval"])
            )
            for model in MODELS:
                start = time.perf_counter()
                model_dir = os.path.join(args.output_dir, "runs", f"p{p}", model, f"seed{seed}")
                keras.backend.clear_session()
                runner = runner_class(pipeline_config(args, model, data_dir, model_dir, seed))
                runner.train()
                evaluated = runner.evaluate()
                result = {
                    "p": p,
                    "model": model,
                    "seed": seed,
                    "final_train_loss": runner.history[-1][1]["total"] if runner.history else None,
                    "eval_loss": evaluated["loss"],
                    "eval_mse_y1": evaluated["mean_squared_error_y1"],
                    "eval_mse_y2": evaluated["mean_squared_error_y2"],
                    "curve": [(s, v["total"]) for s, v in runner.history],
                }
                results.append(result)
                print(
                    f"[{len(results)}/{total}] p={p} {model} seed {seed}: final train loss "
                    f"{result['final_train_loss']:.4f}  eval loss {result['eval_loss']:.4f}  "
                    f"({time.perf_counter() - start:.0f}s)",
                    flush=True,
                )
    return results


def summary_markdown(results: list[dict], correlations) -> str:
    """Mean ± std over seeds of the final training loss and the eval loss."""
    lines = [
        "| p | model | final train loss | eval loss (y1 + y2 MSE) | seeds |",
        "|---|---|---|---|---|",
    ]
    for p in correlations:
        for model in MODELS:
            rs = [r for r in results if r["p"] == p and r["model"] == model]
            train = np.array([r["final_train_loss"] for r in rs])
            evals = np.array([r["eval_loss"] for r in rs])
            std = (lambda a: a.std(ddof=1)) if len(rs) > 1 else (lambda a: 0.0)
            lines.append(
                f"| {p} | {model} | {train.mean():.4f} ± {std(train):.4f} | "
                f"{evals.mean():.4f} ± {std(evals):.4f} | {len(rs)} |"
            )
    return "\n".join(lines) + "\n"


def plot(results: list[dict], correlations, output_dir: str) -> list[str]:
    """loss_curves.png (mean training loss per model, one panel per correlation, the
    band min..max over seeds) and final_loss_hist.png (final losses per model)."""
    from easymtl.compare.chart import pyplot

    plt = pyplot()
    colors = {"shared_bottom": "tab:blue", "omoe": "tab:orange", "mmoe": "tab:green"}
    n = len(correlations)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.4), squeeze=False, sharey=True)
    for ax, p in zip(axes[0], correlations):
        for model in MODELS:
            curves = [r["curve"] for r in results if r["p"] == p and r["model"] == model]
            steps = [s for s, _ in curves[0]]
            losses = np.array([[v for _, v in c] for c in curves])
            ax.plot(steps, losses.mean(axis=0), label=model, color=colors[model])
            ax.fill_between(
                steps, losses.min(axis=0), losses.max(axis=0), alpha=0.2, color=colors[model]
            )
        ax.set_title(f"correlation p = {p}")
        ax.set_xlabel("step")
        ax.set_yscale("log")
    axes[0][0].set_ylabel("training loss (y1 + y2)")
    axes[0][0].legend()
    fig.tight_layout()
    curves_path = os.path.join(output_dir, "loss_curves.png")
    fig.savefig(curves_path, dpi=80)
    plt.close(fig)

    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.2), squeeze=False, sharey=True)
    for ax, p in zip(axes[0], correlations):
        finals = {
            m: [r["final_train_loss"] for r in results if r["p"] == p and r["model"] == m]
            for m in MODELS
        }
        lo = min(min(v) for v in finals.values())
        hi = max(max(v) for v in finals.values())
        bins = np.geomspace(lo, hi, 16) if hi > lo else 10
        for model in MODELS:
            ax.hist(finals[model], bins=bins, alpha=0.5, label=model, color=colors[model])
        ax.set_xscale("log")
        ax.set_title(f"final training loss, p = {p}")
        ax.set_xlabel("loss")
    axes[0][0].set_ylabel("runs")
    axes[0][0].legend()
    fig.tight_layout()
    hist_path = os.path.join(output_dir, "final_loss_hist.png")
    fig.savefig(hist_path, dpi=80)
    plt.close(fig)
    return [curves_path, hist_path]


def write_results(results: list[dict], output_dir: str) -> str:
    path = os.path.join(output_dir, "results.csv")
    keys = [k for k in results[0] if k != "curve"]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, keys, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(results)
    return path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", default="runs/mmoe_synthetic")
    parser.add_argument("--correlations", type=float, nargs="+", default=[1.0, 0.9, 0.5])
    parser.add_argument("--seeds", type=int, default=3, help="Runs per model and correlation.")
    parser.add_argument("--num_steps", type=int, default=1000)
    parser.add_argument("--log_steps", type=int, default=50)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--train_rows", type=int, default=20000)
    parser.add_argument("--eval_rows", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=100, help="d, the input dimension.")
    parser.add_argument("--c", type=float, default=1.0, help="c, the norm of w1 and w2.")
    parser.add_argument("--m", type=int, default=10, help="m, the number of sine terms.")
    parser.add_argument("--alpha_std", type=float, default=1.0)
    parser.add_argument("--noise", type=float, default=0.1, help="Std of the label noise ε.")
    parser.add_argument(
        "--from_csv", action="store_true", help="Read the written CSV files (slower)."
    )
    parser.add_argument("--experts", type=int, default=8)
    parser.add_argument("--expert_units", type=int, default=16)
    parser.add_argument(
        "--bottom_units",
        type=int,
        default=126,
        help="Shared-Bottom width: 126 gives about the parameters of MMoE (14.8k).",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parse_args(argv)
    logging.getLogger("easymtl").setLevel(logging.WARNING)
    os.makedirs(args.output_dir, exist_ok=True)
    results = run_all(args)
    table = summary_markdown(results, args.correlations)
    with open(os.path.join(args.output_dir, "summary.md"), "w") as f:
        f.write(table)
    print()
    print(table)
    paths = [write_results(results, args.output_dir), os.path.join(args.output_dir, "summary.md")]
    try:
        paths += plot(results, args.correlations, args.output_dir)
    except Exception as e:  # noqa: BLE001 - the tables stand without the plots
        print(f"warning: no plots: {e}", file=sys.stderr)
    print("wrote " + ", ".join(paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
