"""Config loading (.config, .yaml, .json) and validation errors that name file, line, field."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest
import yaml
from google.protobuf import json_format

from easymtl.config import load_config
from easymtl.errors import EasymtlError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

VALID = """\
model_dir: "MODEL_DIR"
train_input_path: "train.csv"
data_config {
  batch_size: 8
  label_fields: "clk"
  label_fields: "buy"
  input_fields { input_name: "clk" input_type: INT32 }
  input_fields { input_name: "buy" input_type: INT32 }
  input_fields { input_name: "user_id" input_type: STRING }
  input_fields { input_name: "cms_segid" input_type: STRING }
  input_fields { input_name: "price" input_type: DOUBLE }
}
feature_configs {
  id_feature {
    feature_name: "user_id"
    hash_bucket_size: 100
    embedding_dim: 4
  }
}
feature_configs {
  id_feature {
    feature_name: "cms_segid"
    num_buckets: 10
    embedding_dim: 4
  }
}
feature_configs {
  raw_feature {
    feature_name: "price"
    normalizer: "method=log1p"
  }
}
model_config {
  feature_groups {
    group_name: "all"
    feature_names: "user_id"
    feature_names: "cms_segid"
    feature_names: "price"
    group_type: DEEP
  }
  ple {
    extraction_networks {
      network_name: "level1"
      expert_num_per_task: 1
      share_num: 1
      task_expert_net { hidden_units: [8] }
    }
    task_towers {
      tower_name: "ctr"
      label_name: "clk"
      mlp {
        hidden_units: [4]
        activation: "nn.ReLU"
      }
      losses { binary_cross_entropy {} }
      weight: 1.0
    }
    task_towers {
      tower_name: "cvr"
      label_name: "buy"
      losses { binary_cross_entropy {} }
    }
  }
}
"""

MMOE = """\
  mmoe {
    expert_mlp { hidden_units: [8] }
    num_expert: 3
    task_towers {
      tower_name: "ctr"
      label_name: "clk"
      losses { binary_cross_entropy {} }
    }
  }
"""

# TorchEasyRec's PLE example (samples/configs/ple_taobao.config), unchanged.
TORCHEASYREC_PLE = """\
model_config {
    feature_groups {
        group_name: "all"
        feature_names: "user_id"
        feature_names: "cms_segid"
        group_type: DEEP
    }
    ple {
        extraction_networks {
            network_name: "layer1"
            expert_num_per_task: 2
            share_num: 2
            task_expert_net {
                hidden_units: [1024, 512, 256]
            }
            share_expert_net {
                hidden_units: [1024, 512, 256]
            }
        }
        extraction_networks {
            network_name: "layer2"
            expert_num_per_task: 3
            share_num: 3
            task_expert_net {
                hidden_units: [256, 128, 64]
            }
            share_expert_net {
                hidden_units: [256, 128, 64]
            }
        }
        extraction_networks {
            network_name: "layer3"
            expert_num_per_task: 4
            share_num: 4
            task_expert_net {
                hidden_units: [128, 64, 32]
            }
            share_expert_net {
                hidden_units: [128, 64, 32]
            }
        }
        task_towers {
            tower_name: "ctr"
            label_name: "clk"
            mlp {
                hidden_units: [256, 128, 64]
            }
            metrics {
                auc {}
            }
            losses {
                binary_cross_entropy {}
            }
        }
        task_towers {
            tower_name: "cvr"
            label_name: "buy"
            mlp {
                hidden_units: [256, 128, 64]
            }
            metrics {
                auc {
                    thresholds: 1000
                }
            }
            losses {
                binary_cross_entropy {}
            }
        }
    }
}
"""


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, marker: str) -> int:
    """1-based line number of the single line containing `marker`."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if marker in line]
    assert len(hits) == 1, f"{marker!r} is on lines {hits}"
    return hits[0]


def write(tmp_path, text: str, name: str = "pipeline.config") -> str:
    path = tmp_path / name
    path.write_text(text.replace("MODEL_DIR", str(tmp_path / "model")), encoding="utf-8")
    return str(path)


def load_error(tmp_path, text: str, name: str = "pipeline.config") -> tuple[str, str]:
    path = write(tmp_path, text, name)
    with pytest.raises(EasymtlError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert path in message
    return path, message


def test_valid_minimal_config_loads(tmp_path):
    config = load_config(write(tmp_path, VALID))
    assert config.model_config.WhichOneof("model") == "ple"
    assert [t.tower_name for t in config.model_config.ple.task_towers] == ["ctr", "cvr"]
    assert config.model_dir == str(tmp_path / "model")


def test_torcheasyrec_ple_block_parses_and_validates(tmp_path):
    start = VALID.index("model_config {")
    config = load_config(write(tmp_path, VALID[:start] + TORCHEASYREC_PLE))
    ple = config.model_config.ple
    assert [n.network_name for n in ple.extraction_networks] == ["layer1", "layer2", "layer3"]
    assert [n.expert_num_per_task for n in ple.extraction_networks] == [2, 3, 4]
    assert list(ple.extraction_networks[2].share_expert_net.hidden_units) == [128, 64, 32]
    assert ple.task_towers[1].metrics[0].auc.thresholds == 1000
    assert list(config.model_config.feature_groups[0].feature_names) == ["user_id", "cms_segid"]


@pytest.mark.parametrize(
    "path",
    sorted(glob.glob(os.path.join(REPO, "samples", "configs", "**", "*.config"), recursive=True)),
)
def test_sample_configs_validate(path):
    load_config(path)


@pytest.mark.parametrize("ext", [".yaml", ".yml", ".json"])
def test_yaml_and_json_load_to_the_same_message(tmp_path, ext):
    text_config = load_config(write(tmp_path, VALID))
    data = json_format.MessageToDict(text_config)
    dumped = json.dumps(data) if ext == ".json" else yaml.safe_dump(data)
    path = tmp_path / f"pipeline{ext}"
    path.write_text(dumped, encoding="utf-8")
    assert load_config(str(path)) == text_config


# (old text, new text, marker on the bad line or None for no line, field named in message)
BAD_TEXT_CASES = {
    "syntax_error": ("share_num: 1", "share_num = 1", "share_num = 1", "share_num"),
    "unknown_field": (
        "  ple {\n",
        "  ple {\n    foo_bar: 1\n",
        "foo_bar: 1",
        "foo_bar",
    ),
    "unknown_feature_in_group": (
        'feature_names: "price"',
        'feature_names: "nope"',
        '"nope"',
        "feature_names",
    ),
    "label_not_in_label_fields": (
        'label_name: "buy"',
        'label_name: "like"',
        'label_name: "like"',
        "label_name",
    ),
    "expert_num_per_task_zero": (
        "expert_num_per_task: 1",
        "expert_num_per_task: 0",
        "expert_num_per_task: 0",
        "expert_num_per_task",
    ),
    "duplicate_feature_name": (
        'feature_name: "cms_segid"',
        'feature_name: "user_id"  # again\n    expression: "user:cms_segid"',
        "# again",
        "feature_name",
    ),
    "duplicate_tower_name": (
        'tower_name: "cvr"',
        'tower_name: "ctr"  # twice',
        "# twice",
        "tower_name",
    ),
    "hash_bucket_size_zero": (
        "hash_bucket_size: 100",
        "hash_bucket_size: 0",
        "hash_bucket_size: 0",
        "hash_bucket_size",
    ),
    "feature_reads_unknown_input_field": (
        'feature_name: "cms_segid"',
        'feature_name: "cms_segid"\n    expression: "user:segment"',
        "user:segment",
        "expression",
    ),
    "unsupported_dataset_type": (
        "batch_size: 8",
        "batch_size: 8\n  dataset_type: OdpsDataset",
        "OdpsDataset",
        "dataset_type",
    ),
    "delimiter_of_two_characters": (
        "batch_size: 8",
        'batch_size: 8\n  delimiter: "::"',
        '"::"',
        "data_config.delimiter: '::': expected one ASCII character",
    ),
    "max_bad_row_fraction_above_one": (
        "batch_size: 8",
        "batch_size: 8\n  max_bad_row_fraction: 5",
        "max_bad_row_fraction: 5",
        "data_config.max_bad_row_fraction: must be in [0, 1], got 5",
    ),
    "int_default_val_not_an_integer": (
        "batch_size: 8",
        'batch_size: 8\n  int_default_val: "1.5"',
        "int_default_val",
        "data_config.int_default_val: '1.5' is not an integer",
    ),
    "expert_widths_differ": (
        "task_expert_net { hidden_units: [8] }",
        "task_expert_net { hidden_units: [8] }\n      share_expert_net { hidden_units: [6] }",
        "share_expert_net",
        "share_expert_net.hidden_units",
    ),
    "unsupported_torcheasyrec_field": (
        "  ple {\n",
        "  deepfm {}\n  ple {\n",
        "deepfm {}",
        "ModelConfig.deepfm is a TorchEasyRec field that easymtl does not support",
    ),
    "misspelled_field": (
        "share_num: 1",
        "share_nun: 1",
        "share_nun",
        "did you mean share_num",
    ),
    "negative_tower_weight": ("weight: 1.0", "weight: -0.5", "weight: -0.5", "weight"),
    "bad_normalizer": (
        'normalizer: "method=log1p"',
        'normalizer: "method=log2"',
        "method=log2",
        "normalizer",
    ),
    "unknown_activation": (
        'activation: "nn.ReLU"',
        'activation: "nn.Swoosh"',
        "nn.Swoosh",
        "activation",
    ),
    "empty_hidden_units": (
        "mlp {\n        hidden_units: [4]\n",
        "mlp {  # empty\n",
        "# empty",
        "hidden_units",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TEXT_CASES))
def test_bad_text_config_names_file_line_and_field(tmp_path, case):
    old, new, marker, field = BAD_TEXT_CASES[case]
    text = replace_once(VALID, old, new)
    path, message = load_error(tmp_path, text)
    assert f"{path}:{line_of(text, marker)}:" in message
    assert field in message


def test_empty_task_tower_list(tmp_path):
    start = VALID.index("    task_towers {")
    end = VALID.rindex("  }\n}\n")
    text = VALID[:start] + VALID[end:]
    path, message = load_error(tmp_path, text)
    assert f"{path}:{line_of(text, '  ple {')}:" in message
    assert "task_towers" in message


def test_mmoe_num_expert_zero(tmp_path):
    start, end = VALID.index("  ple {"), VALID.rindex("  }\n}\n") + len("  }\n")
    mmoe = replace_once(MMOE, "num_expert: 3", "num_expert: 0")
    text = VALID[:start] + mmoe + VALID[end:]
    load_config(write(tmp_path, VALID[:start] + MMOE + VALID[end:], "ok.config"))
    path, message = load_error(tmp_path, text)
    assert f"{path}:{line_of(text, 'num_expert: 0')}:" in message
    assert "num_expert" in message


def test_missing_required_field(tmp_path):
    text = replace_once(VALID, 'model_dir: "MODEL_DIR"\n', "")
    _, message = load_error(tmp_path, text)
    assert "model_dir" in message


def test_id_feature_embedding_dim_is_required(tmp_path):
    """As in TorchEasyRec, an id feature has no default embedding size."""
    text = replace_once(VALID, "num_buckets: 10\n    embedding_dim: 4\n", "num_buckets: 10\n")
    _, message = load_error(tmp_path, text)
    assert "feature_configs[1].id_feature.embedding_dim: required field is missing" in message


def test_yaml_that_is_not_a_mapping(tmp_path):
    _, message = load_error(tmp_path, "- model_dir\n- data_config\n", "pipeline.yaml")
    assert "mapping" in message


def test_bad_field_in_yaml_names_the_field(tmp_path):
    data = json_format.MessageToDict(load_config(write(tmp_path, VALID)))
    data["modelConfig"]["ple"]["extractionNetworks"][0]["expertNumPerTask"] = 0
    _, message = load_error(tmp_path, yaml.safe_dump(data), "pipeline.yaml")
    assert "expert_num_per_task" in message


def test_unknown_field_in_json_names_the_field(tmp_path):
    data = json_format.MessageToDict(load_config(write(tmp_path, VALID)))
    data["modelConfig"]["ple"]["fooBar"] = 1
    _, message = load_error(tmp_path, json.dumps(data), "pipeline.json")
    assert "fooBar" in message


def test_missing_config_file(tmp_path):
    path = str(tmp_path / "absent.config")
    with pytest.raises(EasymtlError, match="absent.config"):
        load_config(path)


def run_train(tmp_path, config_path: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "easymtl.train", "--config", config_path],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_cli_bad_config_exits_2_with_one_error_line(tmp_path):
    text = replace_once(VALID, "expert_num_per_task: 1", "expert_num_per_task: 0")
    path = write(tmp_path, text)
    result = run_train(tmp_path, path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert f"{path}:{line_of(text, 'expert_num_per_task: 0')}:" in lines[0]
    assert "expert_num_per_task" in lines[0]
    assert not (tmp_path / "model").exists()


@pytest.mark.slow
def test_cli_missing_config_exits_2(tmp_path):
    result = run_train(tmp_path, str(tmp_path / "absent.config"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "absent.config" in lines[0]
    assert not (tmp_path / "model").exists()


def test_embedding_regularization_must_not_be_negative(tmp_path):
    field = "model_config {\n  embedding_regularization: 1e-5\n"
    ok = replace_once(VALID, "model_config {\n", field)
    assert load_config(write(tmp_path, ok, "ok.config")).model_config.embedding_regularization > 0
    bad = ok.replace("1e-5", "-0.5")
    _, message = load_error(tmp_path, bad)
    assert "model_config.embedding_regularization: must be a finite number >= 0" in message


# ------------------------------------------------------------- YAML and JSON: the lines


def _ple(data: dict) -> dict:
    return data["model_config"]["ple"]


def _rename(d: dict, old: str, new: str) -> None:
    d[new] = d.pop(old)


# (text edit, the same edit of the YAML/JSON mapping, what the changed line holds)
STRUCTURED_CASES = {
    "misspelled_field": (
        ("share_num: 1", "share_nun: 1"),
        lambda d: _rename(_ple(d)["extraction_networks"][0], "share_num", "share_nun"),
        "share_nun",
    ),
    "unsupported_torcheasyrec_field": (
        ("  ple {\n", "  deepfm {}\n  ple {\n"),
        lambda d: d["model_config"].update(deepfm={}),
        "deepfm",
    ),
    "negative_tower_weight": (
        ("weight: 1.0", "weight: -0.5"),
        lambda d: _ple(d)["task_towers"][0].update(weight=-0.5),
        "-0.5",
    ),
    "zero_experts": (
        ("expert_num_per_task: 1", "expert_num_per_task: 0"),
        lambda d: _ple(d)["extraction_networks"][0].update(expert_num_per_task=0),
        "expert_num_per_task",
    ),
    "unknown_label": (
        ('label_name: "buy"', 'label_name: "buyy"'),
        lambda d: _ple(d)["task_towers"][1].update(label_name="buyy"),
        "buyy",
    ),
}


def _dumped(data: dict, ext: str) -> str:
    if ext == ".json":
        return json.dumps(data, indent=2)
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize("ext", [".yaml", ".json"])
@pytest.mark.parametrize("case", sorted(STRUCTURED_CASES))
def test_yaml_and_json_errors_say_what_text_says_with_their_line(tmp_path, case, ext):
    """The same mistake in a .config and in its YAML or JSON twin is the same message,
    each at its own file, line (and column, where the text's has one)."""
    (old, new), edit, marker = STRUCTURED_CASES[case]
    text = replace_once(VALID, old, new)
    text_path, text_message = load_error(tmp_path, text)
    data = json_format.MessageToDict(
        load_config(write(tmp_path, VALID)), preserving_proto_field_name=True
    )
    edit(data)
    dumped = _dumped(data, ext)
    path, message = load_error(tmp_path, dumped, f"pipeline{ext}")
    # Where: the line of the changed key or value, and a column if the text's has one.
    text_where, text_what = text_message[len(text_path) :].split(" ", 1)
    where, what = message[len(path) :].split(" ", 1)
    assert text_where.startswith(f":{line_of(text, marker)}:")
    assert where.startswith(f":{line_of(dumped, marker)}:"), (message, dumped)
    assert where.count(":") == text_where.count(":"), (message, text_message)
    assert what == text_what


def test_a_bad_yaml_value_names_its_line_and_field(tmp_path):
    text = "train_config:\n  num_steps: abc\ndata_config:\n  dataset_type: CsvDatset\n"
    _, message = load_error(tmp_path, text, "pipeline.yaml")
    assert message.endswith(":2:14: train_config.num_steps: expected an integer >= 0, got 'abc'")
    text = "data_config:\n  dataset_type: CsvDatset\n"
    _, message = load_error(tmp_path, text, "pipeline.yaml")
    assert ":2:17: data_config.dataset_type: expected one of" in message
    assert message.endswith("got 'CsvDatset'; did you mean CsvDataset?")
    _, message = load_error(tmp_path, '{"data_config": {"label_fields": "clk"}}', "p.json")
    assert message.endswith(
        ":1:34: data_config.label_fields: a repeated field: expected a list ([...]), got 'clk'"
    )
    _, message = load_error(tmp_path, "train_config: 3\n", "pipeline.yaml")
    assert message.endswith(":1:15: train_config: expected a mapping of TrainConfig fields, got 3")


def test_a_key_given_twice_in_yaml_is_refused(tmp_path):
    text = "train_config:\n  num_steps: 3\n  num_steps: 4\n"
    _, message = load_error(tmp_path, text, "pipeline.yaml")
    assert message.endswith(":3:3: train_config.num_steps: given twice")


def test_yaml_lines_of_repeated_fields_locate_validation_errors(tmp_path):
    data = json_format.MessageToDict(
        load_config(write(tmp_path, VALID)), preserving_proto_field_name=True
    )
    data["data_config"]["label_fields"][1] = "click"
    dumped = _dumped(data, ".yaml")
    _, message = load_error(tmp_path, dumped, "pipeline.yaml")
    assert f":{line_of(dumped, '- click')}: data_config.label_fields[1]: 'click'" in message
