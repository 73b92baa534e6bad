"""Fuzzing the config loader: random mutations of valid configs, in text, YAML and JSON,
either load or raise easymtl's one-line error, never another exception."""

from __future__ import annotations

import json

import yaml
from conftest import SAMPLES
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from easymtl.config import load_config, parse_config
from easymtl.errors import EasymtlError

TEXT = (SAMPLES / "configs" / "mmoe_taobao.config").read_text()
LINES = TEXT.splitlines()
DICT = json_format.MessageToDict(parse_config(TEXT, "mmoe_taobao.config"))

TOKENS = st.sampled_from(
    ["{", "}", ":", "<", ">", "[", "]", ",", '"', "''", "0", "-1", "1e40", "3.5", "nan",
     "true", "DEEP", "mmoe", "task_towers", "hidden_units", "feature_names", '"x"',
     "label_name", "num_expert", "model_dir", "#", "\\", "\u00e9", "\x00"]
)  # fmt: skip

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def mutate_lines(data) -> str:
    lines = list(LINES)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        kind = data.draw(st.sampled_from(["delete", "duplicate", "token", "truncate", "swap"]))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "token":
            words = lines[i].split(" ")
            j = data.draw(st.integers(0, len(words) - 1))
            words[j] = data.draw(TOKENS)
            lines[i] = " ".join(words)
        elif kind == "truncate":
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))]
        else:
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines) + "\n"


def load(path) -> None:
    try:
        load_config(str(path))
    except EasymtlError as e:
        message = str(e)
        assert message and "\n" not in message, message
        assert message.startswith(str(path)), message


@SETTINGS
@given(data=st.data())
def test_mutated_text_config_loads_or_fails_cleanly(tmp_path, data):
    path = tmp_path / "fuzz.config"
    path.write_text(mutate_lines(data), encoding="utf-8")
    load(path)


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "hidden_units", "lr"]), st.integers(-1, 2), max_size=2),
)


def mutate_dict(data, value, depth=0):
    """A copy of `value` with one randomly chosen node replaced, deleted or renamed."""
    if isinstance(value, dict) and value and data.draw(st.integers(0, 3)) > 0:
        key = data.draw(st.sampled_from(sorted(value)))
        copy = dict(value)
        action = data.draw(st.sampled_from(["descend", "delete", "rename", "replace"]))
        if action == "descend":
            copy[key] = mutate_dict(data, value[key], depth + 1)
        elif action == "delete":
            del copy[key]
        elif action == "rename":
            copy[key + "_x"] = copy.pop(key)
        else:
            copy[key] = data.draw(VALUES)
        return copy
    if isinstance(value, list) and value and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(value) - 1))
        return value[:i] + [mutate_dict(data, value[i], depth + 1)] + value[i + 1 :]
    return data.draw(VALUES)


@SETTINGS
@given(data=st.data(), ext=st.sampled_from([".json", ".yaml"]))
def test_mutated_json_and_yaml_configs_load_or_fail_cleanly(tmp_path, data, ext):
    mutated = mutate_dict(data, DICT)
    path = tmp_path / f"fuzz{ext}"
    if ext == ".json":
        path.write_text(json.dumps(mutated), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(mutated), encoding="utf-8")
    load(path)
