"""Why does PLE's first tower collapse on census-income? Trains the PLE that
``easymtl.compare`` derives for a census group (scripts/reproduce/census_income.py) and,
at chosen steps, measures on a fixed probe batch of training rows:

- the backbone input's scale (std and largest |value| over the probe batch);
- per expert of each level: dead units (0 on every probe row), zero activations,
  the output's mean;
- per gate: its mean weight on each expert, the top weight's mean, its entropy;
- per tower: the dead units of its input (the gate's mix) and of its hidden layer,
  its logit's mean and std, its loss on the probe batch and its label prior's entropy.

    python scripts/diagnose/ple_census.py --data_dir DIR --group 1 --seed 0 --no_prior_bias

(--no_prior_bias: as before train_config.prior_bias; without it, as the library trains now.)

One line per probe step and gate/expert; the last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts", "reproduce"))

PROBE_STEPS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 400)


def derived_config(data_dir: str, group: int, architecture: str, seed: int, model_dir: str):
    """The pipeline config compare trains for `architecture` of census `group`, `seed`."""
    from census_income import find_file

    from easymtl.compare.architectures import architectures
    from easymtl.config import load_config, validate

    paths = {
        "train_input_path": find_file(data_dir, "census-income.data"),
        "eval_input_path": find_file(data_dir, "census-income.test"),
    }
    config_path = os.path.join(ROOT, "samples", "configs", f"census_group{group}_mmoe.config")
    config = load_config(config_path, [("--data_dir", paths)])
    (run,) = architectures(config.model_config, None, [architecture])
    config.model_config.CopyFrom(run.model_config)
    config.model_dir = model_dir
    config.train_config.seed = config.train_config.seed + seed
    validate(config)
    return config


def _dead(a: np.ndarray) -> float:
    """Share of units (last axis) that are 0 on every row."""
    return float(np.mean(np.all(a <= 0, axis=0)))


def _entropy(p: np.ndarray) -> float:
    return float(np.mean(-np.sum(p * np.log(np.maximum(p, 1e-12)), axis=-1)))


def probe(runner, features: dict, labels: dict) -> dict:
    """The figures of the module docstring on one batch."""
    import tensorflow as tf

    model = runner.model
    groups = model.features(features)
    x = tf.concat(list(groups.values()), axis=-1)
    out = {"input_std": float(np.std(x)), "input_absmax": float(np.max(np.abs(x)))}
    backbone = model.backbone
    inputs = None
    levels = []
    if hasattr(backbone, "networks"):  # PLE / CGC
        inputs = [x] * (backbone.num_tasks + 1)
        for net in backbone.networks:
            level = {"experts": {}, "gates": {}}
            for e in net.task_experts + net.share_experts:
                # task expert t reads input t; shared experts read the shared input
                t = int(e.name[4]) if e.name.startswith("task") else -1
                a = np.asarray(e(inputs[t], training=False))
                level["experts"][e.name] = {
                    "dead": _dead(a),
                    "zeros": float(np.mean(a <= 0)),
                    "mean": float(np.mean(a)),
                }
            outs, weights = net(inputs, training=False, return_gates=True)
            for (_, task, names), w in zip(net.gate_specs(), weights):
                w = np.asarray(w)
                level["gates"]["shared" if task is None else f"task{task}"] = {
                    "experts": names,
                    "mean_weight": [round(float(v), 3) for v in w.mean(axis=0)],
                    "top_weight": float(np.mean(w.max(axis=-1))),
                    "entropy": _entropy(w),
                }
            levels.append(level)
            inputs = list(outs) + ([outs[-1]] if net.is_final else [])
        reps = inputs[: backbone.num_tasks]
    elif backbone is not None:
        reps = backbone(x, training=False)
        reps = reps if isinstance(reps, (list, tuple)) else [reps] * len(model.towers)
    else:
        reps = [x] * len(model.towers)
    out["levels"] = levels
    towers = {}
    for (name, tower), rep, task in zip(model.towers.items(), reps, runner.tasks):
        rep = np.asarray(rep)
        hidden = np.asarray(tower.mlp(rep, training=False)) if tower.mlp is not None else rep
        logit = np.asarray(tower(rep, training=False))
        y = np.asarray(labels[task.label_name if hasattr(task, "label_name") else name])
        y = y.astype(np.float64).reshape(-1)
        p = 1 / (1 + np.exp(-logit.astype(np.float64)))
        loss = -np.mean(y * np.log(np.maximum(p, 1e-7)) + (1 - y) * np.log(np.maximum(1 - p, 1e-7)))
        prior = float(np.mean(y))
        towers[name] = {
            "input_dead": _dead(rep),
            "input_mean": float(np.mean(rep)),
            "input_row_std": float(np.mean(np.std(rep, axis=0))),
            "hidden_mean": float(np.mean(hidden)),
            "hidden_row_std": float(np.mean(np.std(hidden, axis=0))),
            "head_kernel": [round(float(v), 3) for v in np.asarray(tower.head.kernel)[:, 0]],
            "input_zero_rows": float(np.mean(np.all(rep <= 0, axis=-1))),
            "hidden_dead": _dead(hidden),
            "logit_mean": float(np.mean(logit)),
            "logit_std": float(np.std(logit)),
            "head_bias": float(np.asarray(tower.head.bias)[0]),
            "loss": float(loss),
            "prior_entropy": float(-prior * np.log(prior) - (1 - prior) * np.log(1 - prior)),
        }
    out["towers"] = towers
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--group", type=int, choices=[1, 2], default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--architecture", default="ple")
    parser.add_argument("--num_steps", type=int, default=400)
    parser.add_argument("--probe_rows", type=int, default=4096)
    parser.add_argument("--model_dir", default="/tmp/ple_census_diagnose")
    parser.add_argument(
        "--no_prior_bias",
        action="store_true",
        help="Train with train_config.prior_bias false (the towers' output biases start "
        "at 0, as before the fix): reproduces the collapse.",
    )
    args = parser.parse_args(argv)
    import shutil

    from easymtl import cli
    from easymtl.callbacks import Callback
    from easymtl.data import build_dataset
    from easymtl.runner import Runner

    def job():
        logging.getLogger("easymtl").setLevel(logging.WARNING)
        shutil.rmtree(args.model_dir, ignore_errors=True)
        config = derived_config(
            args.data_dir, args.group, args.architecture, args.seed, args.model_dir
        )
        config.train_config.num_steps = args.num_steps
        config.train_config.ClearField("num_epochs")
        config.train_config.save_checkpoints_steps = args.num_steps
        config.train_config.prior_bias = not args.no_prior_bias
        runner = Runner(config)
        batch = next(
            iter(
                build_dataset(
                    config.data_config,
                    [config.train_input_path],
                    runner.inputs.input_names + runner.inputs.label_names,
                    args.probe_rows,
                    training=False,
                )
            )
        )
        features, labels = runner.split(batch)
        figures = {}

        def record(step):
            f = figures[step] = probe(runner, features, labels)
            line = f"step {step:4d} input std {f['input_std']:.3f} absmax {f['input_absmax']:.2f}"
            for name, t in f["towers"].items():
                line += (
                    f" | {name}: loss {t['loss']:.4f} (prior H {t['prior_entropy']:.4f}) "
                    f"logit {t['logit_mean']:+.2f}±{t['logit_std']:.2f} "
                    f"in {t['input_mean']:.3f}~{t['input_row_std']:.3f} "
                    f"hid {t['hidden_mean']:.3f}~{t['hidden_row_std']:.3f} "
                    f"dead {t['input_dead']:.2f}/{t['hidden_dead']:.2f} b {t['head_bias']:+.3f}"
                )
            print(line, flush=True)
            for i, level in enumerate(f["levels"]):
                dead = " ".join(f"{k}:{v['dead']:.2f}" for k, v in level["experts"].items())
                print(f"    level{i} dead units {dead}", flush=True)
                for g, v in level["gates"].items():
                    print(
                        f"    level{i} gate {g}: top {v['top_weight']:.3f} H {v['entropy']:.3f} "
                        f"mean {v['mean_weight']}",
                        flush=True,
                    )

        class Probe(Callback):
            def before_train(self, step):
                record(0)  # after PriorBias (an earlier callback) has set the biases

            def after_step(self, step, result):
                if step in PROBE_STEPS:
                    record(step)

        runner.callbacks.append(Probe())
        Probe.runner = runner
        runner.train()
        results = runner.evaluate()
        aucs = {k: round(float(v), 4) for k, v in results.items() if k.startswith("auc")}
        print("eval " + json.dumps(aucs), flush=True)
        print(json.dumps({"eval": aucs, "probes": figures}))

    return cli.run(job)


if __name__ == "__main__":
    raise SystemExit(main())
