"""export_config.input_tile (one user, many candidates per request) and
export_config.embedding_quantization: tiled serving equals untiled serving, in every
loader and in saved_model_cli; quantized tables stay close to float32."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from conftest import SAMPLES, make_config

from easymtl import testing
from easymtl.config import load_config
from easymtl.errors import EasymtlError
from easymtl.export.options import user_inputs
from easymtl.testing.clean_process import saved_model_cli

pytestmark = pytest.mark.slow  # trains, exports, and serves in the clean process

CANDIDATES = 5
# A WIDE group beside the sample's DEEP one: user-side terms computed once there too, and
# a combo of a user and an item column (its user column repeated, as in mode 2).
WIDE = """
feature_configs { combo_feature { feature_name: "user_x_cate"
    expression: ["user:user_id", "item:cate_id"] hash_bucket_size: 1000 embedding_dim: 1 } }
model_config { feature_groups { group_name: "wide" group_type: WIDE
    feature_names: ["user_id", "age_level", "price", "user_x_cate"] } }
"""
# User-side (an id, a list) and item-side (ids, a number) columns: a third of the sample's,
# six exports of it in a third of the time.
FEATURES = ["user_id", "cms_segid", "age_level", "tag_brand_list", "adgroup_id", "cate_id", "price"]


def rows(config, n: int, start: int = 0) -> dict[str, list]:
    from easymtl.protos import data_pb2

    fields = config.data_config.input_fields
    lines = (SAMPLES / "data" / "taobao_mtl_eval.csv").read_text().splitlines()[start : start + n]
    cols = {f.input_name: [] for f in fields if f.input_name not in ("clk", "buy")}
    for line in lines:
        for f, value in zip(fields, line.split(","), strict=True):
            if f.input_name in cols:
                cols[f.input_name].append(value if f.input_type == data_pb2.STRING else int(value))
    return cols


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from easymtl.runner import Runner

    tmp = tmp_path_factory.mktemp("tile")
    path = make_config(
        tmp,
        "mmoe",
        "train_config { num_steps: 3 } data_config { batch_size: 64 }" + WIDE,
        features=FEATURES,
    )
    runner = Runner(load_config(str(path)))
    runner.train()
    return runner, tmp


@pytest.fixture(scope="module")
def exports(trained):
    from easymtl.export import export_saved_model

    runner, tmp = trained
    specs = runner.serving_specs()
    paths = [v.path for v in runner.model.variables]
    out = {}
    for name, tile, quant in [
        ("plain", 0, ""),
        ("tile2", 2, ""),
        ("tile3", 3, ""),
        ("int8", 0, "INT8"),
        ("bf16", 0, "BF16"),
        ("tile3_int8", 3, "INT8"),
    ]:
        out[name] = export_saved_model(
            runner.model,
            specs,
            str(tmp / name),
            runner.config,
            input_tile=tile,
            embedding_quantization=quant,
        )
    # The quantized copies live in the exports only: the model's variables are as before.
    assert [v.path for v in runner.model.variables] == paths
    assert all(t.serving_rows is None for t in runner.model.features.tables.values())
    return out


@pytest.fixture(scope="module")
def request_rows(trained):
    """One user (the first eval row's user-side columns) and CANDIDATES items: as a tiled
    request (user columns of one row) and as the same rows untiled."""
    runner, _ = trained
    users = user_inputs(runner.config.feature_configs)
    items = rows(runner.config, CANDIDATES, start=10)
    user = rows(runner.config, 1)
    served = runner.serving_specs()  # the columns the model reads
    items = {c: v for c, v in items.items() if c in served}
    tiled = {c: user[c] if c in users else v for c, v in items.items()}
    untiled = {c: user[c] * CANDIDATES if c in users else v for c, v in items.items()}
    return tiled, untiled


def test_user_inputs_are_the_columns_of_user_side_expressions(trained):
    runner, _ = trained
    users = user_inputs(runner.config.feature_configs)
    assert users[:2] == ["user_id", "cms_segid"] and "tag_brand_list" in users
    assert "adgroup_id" not in users and "price" not in users
    assert "cate_id" not in users  # read as "item:" by the combo too


@pytest.fixture(scope="module")
def served(exports, request_rows):
    """Each export served both ways in the clean process (two requests): the
    untiled ones on the untiled rows, the tiled ones on the tiled request."""
    tiled, untiled = request_rows
    return testing.serve_both_ways_in_clean_process(
        {k: exports[k] for k in ("plain", "int8", "bf16")}, untiled
    ) | testing.serve_both_ways_in_clean_process(
        {k: exports[k] for k in ("tile2", "tile3", "tile3_int8")}, tiled
    )


def test_tiled_exports_serve_what_the_untiled_one_does(exports, served):
    assert {"probs_ctr", "probs_cvr"} <= set(served["plain"]["saved_model"])
    # INT8 tables computed once for the user serve what they serve row by row.
    for name, untiled_name in (("tile2", "plain"), ("tile3", "plain"), ("tile3_int8", "int8")):
        expected = served[untiled_name]["saved_model"]
        for way in ("saved_model", "session"):
            got = served[name][way]
            assert set(got) == set(expected)
            for key, value in expected.items():
                assert got[key].shape == (CANDIDATES,)
                np.testing.assert_allclose(got[key], value, atol=1e-6, err_msg=f"{name} {way}")
    with open(os.path.join(exports["tile3"], "assets", "serving.json")) as f:
        info = json.load(f)
    assert info["input_tile"] == 3 and "user_id" in info["user_inputs"]
    assert not os.path.exists(os.path.join(exports["plain"], "assets", "serving.json"))


def test_saved_model_cli_runs_a_tiled_request(exports, request_rows, trained):
    tiled, untiled = request_rows

    def run(export_dir, request):
        exprs = ";".join(
            f"{k}=[{','.join(repr(v.encode()) if isinstance(v, str) else str(v) for v in vs)}]"
            for k, vs in request.items()
        )
        done = saved_model_cli(
            "run", "--dir", export_dir, "--tag_set", "serve",
            "--signature_def", "serving_default", "--input_exprs", exprs,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        found = re.findall(r"Result for output key (\w+):\s*\n\[([^\]]*)\]", done.stdout)
        return {k: np.array(v.split(), dtype=np.float64) for k, v in found}

    plain = run(exports["plain"], untiled)
    tiled_out = run(exports["tile3"], tiled)
    assert set(plain) == set(tiled_out) and "probs_ctr" in plain
    for key, value in plain.items():
        assert value.shape == (CANDIDATES,)
        np.testing.assert_allclose(tiled_out[key], value, rtol=1e-5, atol=1e-6)


def test_quantized_tables_serve_close_to_float32_and_take_fewer_bytes(exports, served, trained):
    runner, _ = trained
    plain = served["plain"]["saved_model"]["probs_ctr"]
    for name in ("int8", "bf16"):
        for way in ("saved_model", "session"):
            got = served[name][way]["probs_ctr"]
            assert np.abs(got - plain).max() < 5e-3, name
    # int8 rounds: not the very same outputs.
    assert not np.array_equal(served["int8"]["saved_model"]["probs_ctr"], plain)

    def size(export_dir):
        variables = os.path.join(export_dir, "variables")
        return sum(os.path.getsize(os.path.join(variables, f)) for f in os.listdir(variables))

    # Per row of dim d: float32 4d bytes; INT8 d codes + a float32 scale and offset; BF16 2d.
    shapes = [t.embeddings.shape for t in runner.model.features.tables.values()]
    int8_saved = sum(rows * (4 * dim - (dim + 8)) for rows, dim in shapes)
    bf16_saved = sum(rows * 2 * dim for rows, dim in shapes)
    assert int8_saved > 0
    assert size(exports["plain"]) - size(exports["int8"]) > 0.95 * int8_saved
    assert size(exports["plain"]) - size(exports["bf16"]) > 0.95 * bf16_saved


def test_bad_input_tile_and_quantization_are_config_errors(tmp_path):
    path = make_config(tmp_path, extra="export_config { input_tile: 1 }")
    with pytest.raises(EasymtlError, match="input_tile: 1 is not an input tile mode"):
        load_config(str(path))
    path = make_config(tmp_path, extra='export_config { embedding_quantization: "INT4" }')
    with pytest.raises(EasymtlError, match="'INT4' is not a table precision"):
        load_config(str(path))
