"""EasyRec's feature configs (feature_config.features / feature_configs) → easymtl's
feature_configs, one converter per EasyRec feature_type (FEATURE_KINDS).

Meaning as EasyRec's feature_column/feature_column.py and input/input.py read it:
- IdFeature is one value per row (input.py does not split it; its `separator` is
  unused); TagFeature splits its cell by `separator` (default "|"), and with
  `kv_separator` reads "id:weight" items.
- hash_bucket_size hashes the value as a string with TensorFlow's
  string_to_hash_bucket_fast (easymtl's hash: the same ids); vocab_list / vocab_file map
  the value at position i to id i and unknown values to 0 (easymtl:
  default_bucketize_value 0); num_buckets reads an integer id, values outside
  [0, num_buckets) becoming id 0.
- RawFeature with boundaries is bucketized (boundaries sorted) and embedded; with
  min_val < max_val the value is scaled to [0, 1] first, and with num_buckets (and no
  boundaries) it is bucketized into num_buckets equal parts of [min_val, max_val].
- combiner is the pooling of a multi-value feature's embeddings.
"""

from __future__ import annotations

from easymtl.convert.record import Src
from easymtl.protos import feature_pb2

FEATURE_TYPES = {
    0: "IdFeature", 1: "RawFeature", 2: "TagFeature", 3: "ComboFeature",
    4: "LookupFeature", 5: "SequenceFeature", 6: "ExprFeature", 7: "PassThroughFeature",
}  # fmt: skip
FEATURE_KINDS: dict = {}
# The fields of EasyRec's FeatureConfig: a field its kind does not read is unused there.
FIELDS = (
    "feature_name", "input_names", "feature_type", "embedding_name", "embedding_dim",
    "hash_bucket_size", "num_buckets", "boundaries", "separator", "kv_separator",
    "seq_multi_sep", "max_seq_len", "vocab_file", "vocab_list", "shared_names",
    "lookup_max_sel_elem_num", "max_partitions", "combiner", "initializer", "precision",
    "min_val", "max_val", "normalizer_fn", "raw_input_dim", "sequence_combiner",
    "sub_feature_type", "sequence_length", "expression", "ev_params", "combo_join_sep",
    "combo_input_seps",
)  # fmt: skip


def feature_kind(name: str):
    """Registers the converter of EasyRec's feature_type `name`:
    ``fn(src, feature_name, input_names, FeatureConfig) -> None``."""

    def register(fn):
        FEATURE_KINDS[name] = fn
        return fn

    return register


def feature_name(src: Src) -> str:
    """An EasyRec feature's name: feature_name, else its first input name (unread)."""
    for node in src.fields:
        if node.name == "feature_name" and node.values:
            return node.values[0].text
    for node in src.fields:
        if node.name == "input_names" and node.values:
            return node.values[0].text
    return ""


def convert_feature(src: Src, out: feature_pb2.FeatureConfig) -> None:
    """Converts the EasyRec FeatureConfig `src` into `out` (refusals in the record)."""
    kind = src.get("feature_type", FEATURE_TYPES, "IdFeature")
    inputs = src.get_list("input_names")
    name = src.get("feature_name") or (inputs[0] if inputs else "")
    if not inputs:
        src.fail("input_names", "EasyRec's feature needs input_names")
        src.close()
        return
    if kind not in FEATURE_KINDS:
        src.fail("feature_type", f"{kind} is not converted; remove the feature or use a RawFeature")
        src.close()
        return
    FEATURE_KINDS[kind](src, name, inputs, out)
    for field in ("max_partitions", "precision"):
        src.drop(field, "TensorFlow 1 partitioning" if field == "max_partitions" else "unused")
    if src.has("ev_params"):
        src.nodes("ev_params")
        src.fail(
            "ev_params",
            "EmbeddingVariable is DeepRec's (PAI-TF); remove ev_params "
            "(hash_bucket_size applies), or give the id_feature a zch of easymtl's",
        )
    msg = getattr(out, out.WhichOneof("feature")) if out.WhichOneof("feature") else None
    if msg is not None and hasattr(msg, "init_fn") and msg.embedding_dim:
        msg.init_fn = _initializer(src, msg.embedding_dim)
    for node in src.fields:
        if not node.used and node.name in FIELDS:
            src.drop(node.name, f"unused by EasyRec's {kind}")
    src.close(f"{kind} {name!r} -> {out.WhichOneof('feature') or 'nothing'}")


def _initializer(src: Src, dim: int) -> str:
    """The init_fn of EasyRec's `initializer`, else of its default: TensorFlow's
    embedding_column draws a table from a truncated normal of std 1 / sqrt(dim), cut at
    2 std."""
    init = src.msg("initializer", src.target, "Initializer")
    kind = next((n.name for n in init.fields), None) if init is not None else None
    if kind is None:
        std = dim**-0.5
        src.say(f"init_fn: EasyRec's embeddings start from a truncated normal of std "
                f"1 / sqrt({dim})")  # fmt: skip
        return f"nn.init.trunc_normal_,mean=0,std={std:.6g},a={-2 * std:.6g},b={2 * std:.6g}"
    sub = init.msg(kind, init.target, kind)
    text = ""
    if kind in ("truncated_normal_initializer", "random_normal_initializer"):
        mean, std = sub.get("mean", float, 0.0), sub.get("stddev", float, 1.0)
        text = (
            f"nn.init.trunc_normal_,mean={mean:g},std={std:g},a={mean - 2 * std:g},"
            f"b={mean + 2 * std:g}"
            if kind.startswith("truncated")
            else f"nn.init.normal_,mean={mean:g},std={std:g}"
        )
    elif kind == "constant_initializer" and len(sub.get_list("consts", float)) == 1:
        text = f"nn.init.constant_,val={sub.get_list('consts', float)[0]:g}"
    else:
        init.fail(kind, "easymtl.convert reads truncated_normal_initializer, "
                  "random_normal_initializer and one-value constant_initializer")  # fmt: skip
        sub.consume()
    sub.close()
    init.close()
    src.say(f"initializer {kind} -> init_fn")
    return text or "nn.init.uniform_,a=-0.05,b=0.05"
