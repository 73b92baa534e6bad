"""Shared fixtures: pipeline configs over the bundled sample data, written to tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from google.protobuf import text_format

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"

# Small, fast model blocks over the sample features, one per registered model.
MODEL_BLOCKS = {
    "simple_multi_task": "simple_multi_task { %(towers)s }",
    "shared_bottom": "shared_bottom { bottom_mlp { hidden_units: [64] } %(towers)s }",
    "mmoe": "mmoe { expert_mlp { hidden_units: [64, 32] } num_expert: 3 %(towers)s }",
    "ple": """ple {
        extraction_networks { network_name: "l1" expert_num_per_task: 1 share_num: 1
            task_expert_net { hidden_units: [64, 32] } }
        extraction_networks { network_name: "l2" expert_num_per_task: 1 share_num: 1
            task_expert_net { hidden_units: [32] } }
        %(towers)s }""",
    "cgc": """cgc { expert_num_per_task: 1 share_num: 1 task_expert_net { hidden_units: [64, 32] }
        %(towers)s }""",
    # ESMM's two towers are fields of their own; it ignores TOWERS.
    "esmm": """esmm {
        ctr_tower { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [64, 32] }
            metrics { auc {} } losses { binary_cross_entropy {} } }
        cvr_tower { tower_name: "cvr" label_name: "buy" mlp { hidden_units: [64, 32] }
            metrics { auc { thresholds: 1000 } } losses { binary_cross_entropy {} } } }""",
    # DBMTL's towers are BayesTaskTowers: the cvr tower takes in the ctr tower's.
    "dbmtl": """dbmtl { bottom_mlp { hidden_units: [64] } expert_mlp { hidden_units: [32] }
        num_expert: 2
        task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [32] }
            metrics { auc {} } losses { binary_cross_entropy {} } }
        task_towers { tower_name: "cvr" label_name: "buy" mlp { hidden_units: [32] }
            relation_tower_names: "ctr" relation_mlp { hidden_units: [16] }
            metrics { auc { thresholds: 1000 } } losses { binary_cross_entropy {} } } }""",
    "aitm": "aitm { %(towers)s }",
    # DC2VR's towers are InterventionTaskTowers: the cvr tower is intervened on by ctr's.
    "dc2vr": """dc2vr { bottom_mlp { hidden_units: [32] } expert_mlp { hidden_units: [16] }
        num_expert: 2
        task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [8] }
            metrics { auc {} } losses { binary_cross_entropy {} } }
        task_towers { tower_name: "cvr" label_name: "buy" intervention_tower_names: "ctr"
            low_rank_dim: 4 metrics { auc { thresholds: 1000 } }
            losses { binary_cross_entropy {} } } }""",
    # Single-task rankers learn model_config's label (data_config.label_fields[0], clk)
    # with model_config's losses and metrics (RANK). A block that names feature groups
    # replaces the sample's "all" group (make_config).
    "multi_tower": """multi_tower { towers { input: "all" mlp { hidden_units: [16] } }
        final { hidden_units: [8] } } %(rank)s""",
    "multi_tower_din": """multi_tower_din { towers { input: "all" mlp { hidden_units: [16] } }
        final { hidden_units: [8] } } %(rank)s""",
    "wide_and_deep": """feature_groups { group_name: "wide" group_type: WIDE feature_names: "x" }
        feature_groups { group_name: "deep" feature_names: "x" }
        wide_and_deep { deep { hidden_units: [16] } wide_embedding_dim: 2 } %(rank)s""",
    "deepfm": """feature_groups { group_name: "wide" group_type: WIDE feature_names: "x" }
        feature_groups { group_name: "deep" feature_names: "x" }
        deepfm { deep { hidden_units: [16] } final { hidden_units: [8] } } %(rank)s""",
    "xdeepfm": """feature_groups { group_name: "wide" group_type: WIDE feature_names: "x" }
        feature_groups { group_name: "deep" feature_names: "x" }
        xdeepfm { cin { cin_layer_size: [4, 4] } deep { hidden_units: [16] }
            final { hidden_units: [8] } wide_embedding_dim: 4 } %(rank)s""",
    "dlrm": "dlrm { final { hidden_units: [8] } } %(rank)s",
    "dcn_v1": """dcn_v1 { cross { cross_num: 2 } deep { hidden_units: [16] }
        final { hidden_units: [8] } } %(rank)s""",
    "dcn_v2": """dcn_v2 { cross { cross_num: 2 low_rank: 4 } deep { hidden_units: [16] }
        final { hidden_units: [8] } } %(rank)s""",
    "mask_net": """mask_net { mask_net_module { n_mask_blocks: 2 mask_block { hidden_dim: 8 }
        top_mlp { hidden_units: [8] } } } %(rank)s""",
    "wukong": """wukong { wukong_layers { lcb_feature_num: 2 fmb_feature_num: 2
        compressed_feature_num: 2 feature_num_mlp { hidden_units: [8] } }
        final { hidden_units: [8] } } %(rank)s""",
    "rocket_launching": """rocket_launching { booster_mlp { hidden_units: [16, 8] }
        light_mlp { hidden_units: [8] } feature_based_distillation: true } %(rank)s""",
    # Over the "all" group only: the towers read it directly (no EPNet, no PPNet).
    "pepnet": "pepnet { %(towers)s }",
}
RANK = "losses { binary_cross_entropy {} } metrics { auc {} }"
TOWERS = """
    task_towers { tower_name: "ctr" label_name: "clk" mlp { hidden_units: [32] }
        metrics { auc {} } losses { binary_cross_entropy {} } }
    task_towers { tower_name: "cvr" label_name: "buy" mlp { hidden_units: [32] }
        metrics { auc { thresholds: 1000 } } losses { binary_cross_entropy {} } }
"""


# A hashed id, a '|'-separated list and a bucketized number: each kind of feature, for
# tests that need a model but not the sample's 18 features (a third of the tracing time).
FEW_FEATURES = ["user_id", "tag_brand_list", "price"]
# Half the sample features, among them those the planted signal is in: a model over
# these still learns (one epoch of MMoE: auc_ctr about 0.67, auc_cvr 0.70) in half the time.
LEARNING_FEATURES = [
    "user_id", "adgroup_id", "cate_id", "brand", "pvalue_level",
    "tag_category_list", "tag_brand_list", "price",
]  # fmt: skip


def make_config(
    tmp_path: Path, model: str = "mmoe", extra: str = "", features: list[str] | None = None
) -> Path:
    """Writes a config over the sample data with `model`'s small block; `extra` is
    protobuf text merged on top (e.g. "train_config { num_steps: 10 }"). With `features`
    (e.g. FEW_FEATURES), the model reads only those, in each of its feature groups."""
    from easymtl.config import PipelineConfig

    config = PipelineConfig()
    text_format.Parse((SAMPLES / "configs" / "mmoe_taobao.config").read_text(), config)
    config.model_config.ClearField("mmoe")
    block = MODEL_BLOCKS[model] % {"towers": TOWERS, "rank": RANK}
    if "feature_groups" in block:
        # The block's groups (their features "x": every sample feature) replace "all".
        every = list(config.model_config.feature_groups[0].feature_names)
        config.model_config.ClearField("feature_groups")
        text_format.Merge(block, config.model_config)
        for group in config.model_config.feature_groups:
            if list(group.feature_names) == ["x"]:
                del group.feature_names[:]
                group.feature_names.extend(every)
    else:
        text_format.Merge(block, config.model_config)
    config.train_input_path = str(SAMPLES / "data" / "taobao_mtl_train.csv")
    config.eval_input_path = str(SAMPLES / "data" / "taobao_mtl_eval.csv")
    config.model_dir = str(tmp_path / "model")
    config.train_config.log_step_count_steps = 10
    for feature in config.feature_configs:
        kind = feature.WhichOneof("feature")
        getattr(feature, kind).embedding_dim = 8
    if features is not None:
        kept = [
            f
            for f in config.feature_configs
            if getattr(f, f.WhichOneof("feature")).feature_name in features
        ]
        assert len(kept) == len(features), f"not all of {features} are sample features"
        del config.feature_configs[:]
        config.feature_configs.extend(kept)
        for group in config.model_config.feature_groups:
            del group.feature_names[:]
            group.feature_names.extend(features)
    text_format.Merge(extra, config)
    path = tmp_path / f"{model}.config"
    path.write_text(text_format.MessageToString(config))
    return path


def pytest_collection_modifyitems(config, items):
    """Runs the heaviest test files first (their seconds in tests/durations.json, which
    scripts/test_durations.py writes), each file's tests in their order: pytest-xdist
    then hands out the long files early and the short ones last, so that both workers
    finish together instead of one waiting on a long file at the end. A file not in
    durations.json counts as a middling one."""
    import json
    import statistics

    durations = json.loads((Path(__file__).parent / "durations.json").read_text())
    default = statistics.median(durations.values()) if durations else 0.0
    root = Path(config.rootpath)

    def cost(item) -> float:
        path = Path(str(item.path)).resolve()
        return durations.get(path.relative_to(root).as_posix(), default)

    items.sort(key=cost, reverse=True)  # stable: a file's tests keep their order


@pytest.fixture
def config_factory(tmp_path):
    return lambda model="mmoe", extra="", features=None: make_config(
        tmp_path, model, extra, features
    )


def free_ports(n: int) -> list[int]:
    """`n` TCP ports on 127.0.0.1 that were free a moment ago."""
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(config_path, num_workers: int = 2) -> list:
    """Starts `python -m easymtl.train --config config_path` as `num_workers` worker
    processes of one TF_CONFIG cluster on 127.0.0.1 (stdout and stderr in one pipe)."""
    import json
    import subprocess
    import sys

    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(num_workers)]}
    procs = []
    for index in range(num_workers):
        env = dict(os.environ)
        task = {"type": "worker", "index": index}
        env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": task})
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "easymtl.train", "--config", str(config_path)],
                cwd=ROOT,
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        )
    return procs


def train_workers(config_path, num_workers: int = 2) -> list[tuple[int, str]]:
    """Runs :func:`start_workers` to the end; (exit status, log) of each worker."""
    procs = start_workers(config_path, num_workers)
    logs = [p.communicate(timeout=600)[0] for p in procs]
    return [(p.returncode, log) for p, log in zip(procs, logs)]


def start_ps_cluster(config_path, num_workers: int = 2, num_ps: int = 2) -> dict:
    """Starts `python -m easymtl.train --config config_path` as the tasks of one
    parameter-server TF_CONFIG cluster on 127.0.0.1: the ps and worker tasks first, then
    the chief; {"chief": [proc], "worker": [...], "ps": [...]} (stdout and stderr of each
    in one pipe)."""
    import json
    import subprocess
    import sys

    ports = iter(free_ports(1 + num_workers + num_ps))
    cluster = {
        job: [f"127.0.0.1:{next(ports)}" for _ in range(count)]
        for job, count in (("chief", 1), ("worker", num_workers), ("ps", num_ps))
    }
    procs = {}
    for job in ("ps", "worker", "chief"):
        for index in range(len(cluster[job])):
            env = dict(os.environ)
            env["TF_CONFIG"] = json.dumps(
                {"cluster": cluster, "task": {"type": job, "index": index}}
            )
            procs.setdefault(job, []).append(
                subprocess.Popen(
                    [sys.executable, "-m", "easymtl.train", "--config", str(config_path)],
                    cwd=ROOT,
                    env=env,
                    text=True,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
    return procs


def finish_ps_cluster(procs: dict, timeout: float = 600) -> dict:
    """Waits for the chief of :func:`start_ps_cluster`, then for the other tasks (which
    the chief releases when it succeeds; they are killed when it fails or they outlive
    a grace period); {job: [(exit status, log), ...]}."""
    import subprocess

    chief = procs["chief"][0]
    try:
        chief_log = chief.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        chief.kill()
        chief_log = chief.communicate()[0] + "\n[chief killed: timeout]"
    logs = {"chief": [(chief.returncode, chief_log)]}
    for job in ("worker", "ps"):
        for proc in procs[job]:
            grace = 60 if chief.returncode == 0 else 0
            try:
                out = proc.communicate(timeout=grace)[0]
            except subprocess.TimeoutExpired:
                proc.kill()
                out = proc.communicate()[0] + "\n[killed]"
            logs.setdefault(job, []).append((proc.returncode, out))
    return logs
