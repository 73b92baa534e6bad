"""Device placement: the features' string, hash and parsing ops are pinned to the CPU
(they have no GPU kernels), the embedding lookups and the dense math are not, so that on
a GPU they run there. Checked on the traced graph, which records each op's requested
device whether or not a GPU is present."""

from __future__ import annotations

import tensorflow as tf
from conftest import SAMPLES, make_config

from easymtl.config import load_config
from easymtl.runner import Runner

# The sample config's features split tag lists, hash ids and parse a number; an op of
# each of these types must come from them.
STRING_OPS = {"StringSplitV2", "StringToHashBucketFast", "StringToNumber", "StaticRegexFullMatch"}
DENSE_OPS = {"ResourceGather", "MatMul"}


def _graph_ops(tmp_path):
    runner = Runner(load_config(str(make_config(tmp_path, "mmoe"))))
    fn = tf.function(lambda inputs: runner.model(inputs, training=False))
    return fn.get_concrete_function(runner.serving_specs()).graph.get_operations()


def test_string_ops_are_pinned_to_the_cpu_and_the_math_is_not(tmp_path):
    ops = _graph_ops(tmp_path)
    types = {op.type for op in ops}
    assert types >= STRING_OPS and types >= DENSE_OPS, sorted(types)
    string_ops = [
        op for op in ops if op.type.startswith(("String", "StaticRegex", "Regex", "AsString"))
    ]
    off_cpu = [(op.name, op.device) for op in string_ops if "CPU:0" not in op.device]
    assert not off_cpu, off_cpu
    pinned = [(op.name, op.device) for op in ops if op.type in DENSE_OPS and op.device]
    assert not pinned, pinned  # left to the default device


def test_sequence_string_ops_are_pinned_to_the_cpu_and_attention_is_not(tmp_path):
    config = load_config(
        str(SAMPLES / "configs" / "mmoe_multi_window_din_taobao.config"),
        [("test", {"model_dir": str(tmp_path / "model")})],
    )
    runner = Runner(config)
    fn = tf.function(lambda inputs: runner.model(inputs, training=False))
    ops = fn.get_concrete_function(runner.serving_specs()).graph.get_operations()
    # The '|'-joined sequence cells are split; the encoder's math is left alone.
    assert "StringSplitV2" in {op.type for op in ops}
    sequence_ops = [op for op in ops if "click_50_seq__" in op.name]
    encoder_ops = [op for op in ops if "multi_window_din_encoder" in op.name]
    assert sequence_ops and encoder_ops, "no op of the sequence features or the encoder"
    string_ops = [
        op for op in ops if op.type.startswith(("String", "StaticRegex", "Regex", "AsString"))
    ]
    off_cpu = [(op.name, op.device) for op in string_ops if "CPU:0" not in op.device]
    assert not off_cpu, off_cpu
    assert "MatMul" in {op.type for op in encoder_ops}
    pinned = [(op.name, op.device) for op in ops if op.type in DENSE_OPS and op.device]
    assert not pinned, pinned
