"""EasyRec's configs of issue 29 (tests/convert/easyrec/, copied from EasyRec with their
licence): the six multi-task ones and the six rankers convert to the committed
samples/configs/easyrec/ files, train, evaluate and export; config loading tells EasyRec's
format from easymtl's and from neither."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from easymtl.config import load_config, validate
from easymtl.convert import source_format
from easymtl.convert.__main__ import header
from easymtl.convert.__main__ import main as convert_main
from easymtl.convert.easyrec import convert
from easymtl.convert.writer import render
from easymtl.errors import EasymtlError
from easymtl.testing.clean_process import saved_model_cli

ROOT = Path(__file__).resolve().parents[2]
EASYREC = Path("tests/convert/easyrec")
MULTI_TASK = ["mmoe", "esmm", "dbmtl", "ple", "simple_multi_task", "aitm"]
# EasyRec's rankers (the Avazu ones read scripts/make_avazu_data.py's samples/data files),
# with the easymtl model each becomes.
RANKERS = {
    "din_on_taobao": "multi_tower_din",
    "dcn_on_taobao": "dcn_v1",
    "dlrm_on_taobao": "dlrm",
    "masknet_on_taobao": "mask_net",
    "wide_and_deep_on_avazau_ctr": "wide_and_deep",
    "deepfm_combo_on_avazu_ctr": "deepfm",
}
CONFIGS = [f"{m}_on_taobao" for m in MULTI_TASK] + list(RANKERS)


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the configs' paths are relative to the repository


@pytest.mark.parametrize("name", CONFIGS)
def test_conversion_matches_the_committed_config(name):
    source = EASYREC / f"{name}.config"
    output = Path("samples/configs/easyrec") / f"{name}.config"
    conversion = convert(source.read_text(), str(source), validate)
    text = render(conversion.config, conversion.notes, header(str(source), str(output)))
    assert text == output.read_text(), (
        f"rerun: python -m easymtl.convert --from easyrec {source} --output {output}"
    )
    assert load_config(str(output)) == conversion.config  # a valid easymtl config as it is
    # Every EasyRec message is noted, with the line it is on.
    lines = source.read_text().splitlines()
    for note in conversion.notes:
        name = note.source.rsplit(".", 1)[-1].split("[")[0]
        assert name in lines[note.line - 1] or not note.source, note


@pytest.mark.parametrize(("name", "model"), sorted(RANKERS.items()))
def test_rankers_become_easymtls_ranker_of_the_same_name(name, model):
    config = load_config(str(EASYREC / f"{name}.config"))
    assert config.model_config.WhichOneof("model") == model
    assert config.model_config.label_name == config.data_config.label_fields[0]
    assert [m.WhichOneof("metric") for m in config.model_config.metrics] == ["auc"]


def test_convert_cli_writes_the_config_or_lists_every_refusal(tmp_path, capsys):
    out = tmp_path / "mmoe.config"
    source = EASYREC / "mmoe_on_taobao.config"
    assert convert_main(["--from", "easyrec", str(source), "--output", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert load_config(str(out)).model_config.HasField("mmoe")
    bad = tmp_path / "bad.config"
    text = source.read_text().replace("input_type: CSVInput", "input_type: OdpsInputV2")
    bad.write_text(text.replace("sync_replicas: true", "sync_replicas: true\n  dead_line: 'x'"))
    target = tmp_path / "bad_out.config"
    assert convert_main(["--from", "easyrec", str(bad), "--output", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and not target.exists()
    assert "train_config.dead_line: not in easymtl" in err[0]  # in file order
    assert "data_config.input_type: OdpsInputV2 is not read by easymtl. Export" in err[1]
    assert err[2].endswith("2 fields cannot be converted (listed above); nothing was written")


def test_loading_tells_the_formats_apart(tmp_path):
    text = (EASYREC / "mmoe_on_taobao.config").read_text()
    assert source_format(text, "x.config") == "easyrec"
    easymtl_text = Path("samples/configs/mmoe_taobao.config").read_text()
    assert source_format(easymtl_text, "y.config") == "easymtl"
    neither = tmp_path / "tf.config"
    neither.write_text("# a TensorFlow model\nmodel {\n  ssd { num_classes: 3 }\n}\n")
    with pytest.raises(EasymtlError) as e:
        load_config(str(neither))
    assert str(e.value).startswith(f"{neither}:2: not a pipeline config: its fields (model)")
    assert "\n" not in str(e.value)


def test_a_converted_field_easymtl_refuses_is_located_at_its_easyrec_line(tmp_path):
    text = (EASYREC / "mmoe_on_taobao.config").read_text()
    bad = tmp_path / "mmoe.config"
    bad.write_text(text.replace('label_name: "buy"', 'label_name: "bought"'))
    with pytest.raises(EasymtlError) as e:
        load_config(str(bad))
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if '"bought"' in t)
    assert str(e.value).startswith(f"{bad}:{line}: (converted to easymtl's model_config.mmoe")
    assert "'bought' is not one of data_config.label_fields" in str(e.value)


def _serve_with_saved_model_cli(export_dir: str, name: str) -> dict[str, float]:
    """The outputs of TensorFlow Serving's loader on the first row of the config's eval
    file."""
    config = load_config(str(EASYREC / f"{name}.config"))
    row = Path(config.eval_input_path).read_text().splitlines()[0].split(",")
    names = [f.input_name for f in config.data_config.input_fields]
    wanted = {
        getattr(f, f.WhichOneof("feature")).feature_name for f in config.feature_configs
    }  # each feature reads the column of its name in these configs
    exprs = ";".join(
        f"{n}=[{v!r}]" if t == 2 else f"{n}=[{v or 0}]"
        for n, v, t in zip(names, row, [f.input_type for f in config.data_config.input_fields])
        if n in wanted
    )
    run = saved_model_cli(
        "run", "--dir", export_dir, "--tag_set", "serve",
        "--signature_def", "serving_default", "--input_exprs", exprs,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.findall(r"Result for output key (\w+):\s*\n\[([^\]]*)\]", run.stdout)
    return {key: float(value) for key, value in found}


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_easyrec_config_trains_evaluates_and_exports(name, tmp_path, capsys):
    """`python -m easymtl.train --config <EasyRec's config>`: the config as EasyRec has
    it (input paths changed), a small budget by flags (tables of 100,000 rows capped at
    10,000 too: a tenth of the checkpoint and export to write)."""
    from easymtl.testing.tzrec_configs import table_caps
    from easymtl.train import main as train_main

    model_dir = tmp_path / "model"
    caps = table_caps(load_config(str(EASYREC / f"{name}.config")), 10000)
    args = [
        "--config", str(EASYREC / f"{name}.config"),
        "--model_dir", str(model_dir),
        "--train_config.num_steps", "4",
        "--data_config.batch_size", "64",
        "--eval_config.num_steps", "2",
        "--data_config.eval_batch_size", "64",
        *(f"--{path}={value}" for path, value in caps.items()),
    ]  # fmt: skip
    assert train_main(args) == 0, capsys.readouterr().err
    log = capsys.readouterr().out
    assert "training done at step 4" in log and "eval at step 4" in log
    exports = list((model_dir / "export").iterdir())
    assert len(exports) == 1
    if name == "esmm_on_taobao":  # TensorFlow Serving's loader, on a raw Taobao row
        outputs = _serve_with_saved_model_cli(str(exports[0]), name)
        assert {"probs_ctr", "probs_cvr", "probs_ctcvr"} <= set(outputs)
        ctr, cvr, ctcvr = (outputs[f"probs_{k}"] for k in ("ctr", "cvr", "ctcvr"))
        np.testing.assert_allclose(ctcvr, ctr * cvr, rtol=1e-5)
    if name == "din_on_taobao":  # a ranker's outputs served (its tag lists, its DIN)
        outputs = _serve_with_saved_model_cli(str(exports[0]), name)
        assert {"logits", "probs"} <= set(outputs)
        np.testing.assert_allclose(outputs["probs"], 1 / (1 + np.exp(-outputs["logits"])), 1e-5)


def test_a_config_mixing_both_formats_is_refused(tmp_path):
    text = Path("samples/configs/mmoe_taobao.config").read_text()
    mixed = tmp_path / "mixed.config"
    mixed.write_text(text.replace("train_config {", "train_config {\n  optimizer_config {}", 1))
    with pytest.raises(EasymtlError) as e:
        load_config(str(mixed))
    line = next(
        i for i, t in enumerate(mixed.read_text().splitlines(), 1) if "optimizer_config" in t
    )
    assert str(e.value).startswith(f"{mixed}:{line}: train_config.optimizer_config is EasyRec's")
    assert "is easymtl's / TorchEasyRec's: write the config in one format" in str(e.value)
