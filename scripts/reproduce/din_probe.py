"""What DIN's attention learns in one epoch of the sample data, measured as it trains.

Trains the config's model (by default samples/configs/mmoe_din_taobao.config) once per
variant of its din_encoder and, every --every steps, probes it on the first --probe_rows
eval rows and one fixed training batch:

- ``attn_ratio``: the mean attention weight on the positions whose cate_id equals the
  candidate's, over the mean weight on the other valid positions (1: attention blind to
  the match), the median over the rows that have both; ``attn_share``: the attention's
  total share on matching positions, beside ``uniform_share``, what uniform weights give;
- ``grad_rms_<block>``: the RMS gradient of the loss with respect to the first attn_mlp
  kernel's rows that read each block of its input (q, s, q-s, q*s, and the match and
  recency channels where the variant has them), beside ``grad_rms_expert``, the RMS
  gradient of the first expert layer's kernel;
- ``cate_norm``: the mean L2 norm of the candidates' cate_id embeddings (the table the
  sequence shares), and ``qs_match`` / ``qs_other``: the mean |q*s| of the cate_id block at
  matching and at other positions (what the score MLP sees of a match);
- ``auc_ctr``: the eval AUC after the epoch.

Writes ``<output_dir>/probe.csv`` (one row per variant and probe step), ``probe.md`` (the
last probe of each variant) and ``probe.png`` (the curves):

    python scripts/make_sample_data.py --out_dir samples/data --sequence_length 50
    python scripts/reproduce/din_probe.py --output_dir runs/din_probe
"""

from __future__ import annotations

import argparse
import copy
import csv
import logging
import os
import sys
import time

import numpy as np

VARIANTS = {
    # name: (exact_match, recency)
    "din": (False, False),
    "din_match": (True, False),
    "din_match_recency": (True, True),
}


def _block_slices(d: int, k: int, recency: int) -> dict[str, slice]:
    """The rows of the first attn_mlp kernel that read each block of DIN's input."""
    blocks, start = {}, 0
    for name, width in (("q", d), ("s", d), ("q_minus_s", d), ("q_times_s", d)):
        blocks[name] = slice(start, start + width)
        start += width
    if k:
        blocks["match"] = slice(start, start + k)
        start += k
    if recency:
        blocks["recency"] = slice(start, start + recency)
    return blocks


def _cate_match(batch: dict, query: str, sequence: str, delim: str, steps: int) -> np.ndarray:
    """[rows, steps] bool: position t's sequence item equals the row's query value."""
    rows = len(batch[query])
    out = np.zeros((rows, steps), bool)
    for i, (q, s) in enumerate(zip(batch[query], batch[sequence])):
        items = s.decode().split(delim) if s else []
        for t, item in enumerate(items[:steps]):
            out[i, t] = item == q.decode()
    return out


def probe_callback(encoder_name: str, every: int, probe_rows: int, rows: list, variant: str):
    """A runner Callback recording the probe's figures every `every` steps into `rows`."""
    import tensorflow as tf

    from easymtl.callbacks import Callback
    from easymtl.layers.din import RECENCY_TAUS

    class Probe(Callback):
        def before_train(self, step):
            parts, seen = [], 0
            for batch in self.runner.build_dataset(training=False):
                parts.append(batch)
                seen += int(tf.shape(batch["clk"])[0])
                if seen >= probe_rows:
                    break
            self.probe = {
                k: np.concatenate([b[k].numpy() for b in parts])[:probe_rows]
                for k in self.runner.inputs.input_names + self.runner.inputs.label_names
            }
            self.train_batch = next(iter(self.runner.build_dataset(training=True)))
            self._record(step)

        def after_step(self, step, result):
            if step % every == 0:
                self._record(step)

        def _record(self, step):
            runner, probe, train_batch = self.runner, self.probe, self.train_batch
            features = runner.model.features
            encoder = features.encoders[encoder_name]
            args = features.encoder_inputs(probe, encoder_name)
            weights = np.asarray(encoder.attention(**args))
            mask = np.asarray(args["mask"])
            match = _cate_match(probe, "cate_id", "click_50_seq__cate_id", "|", mask.shape[1])
            match &= mask
            other = mask & ~match
            both = match.any(1) & other.any(1)
            w_match = (weights * match).sum(1)[both] / match.sum(1)[both]
            w_other = (weights * other).sum(1)[both] / other.sum(1)[both]
            share = (weights * match).sum(1)[mask.any(1)]
            uniform = (match.sum(1) / np.maximum(mask.sum(1), 1))[mask.any(1)]
            # The cate_id block of the sequence: the query's and sequence's second 16 dims.
            seq = np.asarray(args["sequence"])
            q = np.asarray(args["query"])
            d = seq.shape[-1]
            cate = slice(16, 32)
            qs = np.abs(q[:, None, cate] * seq[:, :, cate]).mean(-1)
            grads = runner.train_step.gradients(*runner.split(train_batch)).gradients
            by_var = {
                id(v): g
                for v, g in zip(runner.state.embedding_vars + runner.state.dense_vars, grads)
            }
            kernel = encoder.attn_mlp.weights[0]
            g = np.asarray(tf.convert_to_tensor(by_var[id(kernel)]))
            k = args["match"].shape[-1] if "match" in args else 0
            blocks = _block_slices(d, k, len(RECENCY_TAUS) if encoder.recency else 0)
            expert = next(
                v
                for v in runner.state.dense_vars
                if "expert" in v.path and v.path.endswith("kernel")
            )
            ge = np.asarray(tf.convert_to_tensor(by_var[id(expert)]))
            table = features.tables["cate"].embeddings.numpy()
            cate_ids = features.features["cate_id"](probe["cate_id"]).flat_values.numpy()
            row = {
                "variant": variant,
                "step": step,
                "attn_ratio": float(np.median(w_match / np.maximum(w_other, 1e-12))),
                "attn_share": float(share.mean()),
                "uniform_share": float(uniform.mean()),
                "cate_norm": float(np.linalg.norm(table[cate_ids], axis=1).mean()),
                "qs_match": float(qs[match].mean()),
                "qs_other": float(qs[other].mean()),
                "grad_rms_expert": float(np.sqrt(np.mean(ge**2))),
            }
            for name, rows_ in blocks.items():
                row[f"grad_rms_{name}"] = float(np.sqrt(np.mean(g[rows_] ** 2)))
            rows.append(row)

    return Probe()


def run_variant(base, variant: str, output_dir: str, every: int, probe_rows: int) -> list[dict]:
    """Trains one variant with the probe; returns its probe rows (the last with auc_ctr)."""
    from easymtl.runner import Runner

    exact_match, recency = VARIANTS[variant]
    config = copy.deepcopy(base)
    config.model_dir = os.path.join(output_dir, variant)
    encoder_name = None
    for g in config.model_config.feature_groups:
        for k, enc in enumerate(g.sequence_encoders):
            if enc.WhichOneof("seq_module") == "din_encoder":
                enc.din_encoder.exact_match = exact_match
                enc.din_encoder.recency = recency
                encoder_name = enc.din_encoder.name or f"{g.group_name}_din_encoder_{k}"
    if encoder_name is None:
        raise SystemExit("error: the config has no din_encoder")
    rows: list[dict] = []
    runner = Runner(
        config, callbacks=[probe_callback(encoder_name, every, probe_rows, rows, variant)]
    )
    start = time.time()
    runner.train()
    results = runner.evaluate()
    rows[-1]["auc_ctr"] = float(results["auc_ctr"])
    print(
        f"{variant}: auc_ctr {results['auc_ctr']:.4f}, attn_ratio {rows[-1]['attn_ratio']:.2f} "
        f"({time.time() - start:.0f}s)",
        flush=True,
    )
    return rows


def write_outputs(rows: list[dict], output_dir: str) -> list[str]:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    path = os.path.join(output_dir, "probe.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(rows)
    paths = [path]
    shown = [
        "attn_ratio",
        "attn_share",
        "uniform_share",
        "cate_norm",
        "qs_match",
        "qs_other",
        "grad_rms_q_times_s",
        "grad_rms_match",
        "grad_rms_expert",
        "auc_ctr",
    ]
    lines = [
        "| variant | step | " + " | ".join(shown) + " |",
        "|---|---|" + "---|" * len(shown),
    ]
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant]
        for r in (mine[0], mine[-1]):
            cells = [f"{r[k]:.3g}" if k in r else "" for k in shown]
            lines.append(f"| {variant} | {r['step']} | " + " | ".join(cells) + " |")
    md = os.path.join(output_dir, "probe.md")
    with open(md, "w") as f:
        f.write("\n".join(lines) + "\n")
    paths.append(md)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return paths
    fig, axes = plt.subplots(1, 4, figsize=(20, 4))
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant]
        steps = [r["step"] for r in mine]
        axes[0].semilogy(steps, [r["attn_ratio"] for r in mine], label=variant)
        axes[3].semilogy(steps, [r["qs_match"] for r in mine], label=f"{variant}: match")
        axes[3].semilogy(steps, [r["qs_other"] for r in mine], ":", label=f"{variant}: other")
        axes[1].plot(steps, [r["attn_share"] for r in mine], label=variant)
        axes[2].semilogy(
            steps, [r["grad_rms_q_times_s"] for r in mine], label=f"{variant}: q*s rows"
        )
        if "grad_rms_match" in mine[0]:
            axes[2].semilogy(
                steps, [r["grad_rms_match"] for r in mine], "--", label=f"{variant}: match rows"
            )
    first = [r for r in rows if r["variant"] == rows[0]["variant"]]
    axes[1].plot(
        [r["step"] for r in first], [r["uniform_share"] for r in first], "k:", label="uniform"
    )
    axes[0].set_title("attention on matching / other positions (median)")
    axes[3].set_title("mean |q*s| of the cate_id block")
    axes[1].set_title("attention share on matching positions")
    axes[2].set_title("RMS gradient of attn_mlp's first kernel")
    for ax in axes:
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    png = os.path.join(output_dir, "probe.png")
    fig.savefig(png, dpi=90)
    paths.append(png)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="samples/configs/mmoe_din_taobao.config")
    parser.add_argument("--output_dir", default="runs/din_probe")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="Of: " + ", ".join(VARIANTS))
    parser.add_argument("--every", type=int, default=10, help="Steps between probes.")
    parser.add_argument("--probe_rows", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.getLogger("easymtl").setLevel(logging.WARNING)

    from easymtl.config import load_config
    from easymtl.errors import EasymtlError

    try:
        base = load_config(args.config)
    except EasymtlError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    base.train_config.seed = args.seed
    variants = [v.strip() for v in args.variants.split(",")]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        print(f"error: --variants: unknown {unknown[0]!r}; expected of {list(VARIANTS)}")
        return 2
    os.makedirs(args.output_dir, exist_ok=True)
    rows = []
    for variant in variants:
        rows += run_variant(base, variant, args.output_dir, args.every, args.probe_rows)
    print("wrote " + ", ".join(write_outputs(rows, args.output_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
