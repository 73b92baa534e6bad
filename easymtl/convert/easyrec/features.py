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


def _names(src: Src, msg, name: str, column: str) -> None:
    msg.feature_name = name
    if column != name:
        msg.expression = column
    src.say("input_names -> expression" if column != name else "input_names (its column)")
    if src.has("feature_name"):
        src.keep("feature_name")


def _embedding(src: Src, msg, name: str, needed: bool = True) -> None:
    dim = src.get("embedding_dim", int, 0)
    if dim:
        msg.embedding_dim = dim
        src.keep("embedding_dim")
    elif needed:
        src.fail("embedding_dim", f"EasyRec embeds {name!r} and needs its embedding_dim")
    embedding_name = src.get("embedding_name", str, "")
    if embedding_name:
        msg.embedding_name = embedding_name
        src.keep("embedding_name")


def _pooling(src: Src, msg) -> None:
    combiner = src.get("combiner", str, "sum")
    if combiner not in ("sum", "mean"):
        src.fail("combiner", f"{combiner!r}: easymtl pools by 'sum' or 'mean'")
    msg.pooling = combiner if combiner in ("sum", "mean") else "sum"
    if src.has("combiner"):
        src.keep("combiner", "pooling")


def _ids(src: Src, msg, name: str) -> None:
    """hash_bucket_size / vocab_list / vocab_file / num_buckets of an id-like feature."""
    if src.has("hash_bucket_size"):
        msg.hash_bucket_size = src.get("hash_bucket_size", int, 0, keep="hash_bucket_size")
    elif src.has("vocab_list"):
        msg.vocab_list.extend(src.get_list("vocab_list"))
        msg.default_bucketize_value = 0
        src.say(
            "vocab_list: position i -> id i, unknown values -> id 0 (default_bucketize_value 0)"
        )
    elif src.has("vocab_file"):
        msg.vocab_file = src.get("vocab_file")
        msg.default_bucketize_value = 0
        src.say("vocab_file: line i -> id i, unknown values -> id 0 (default_bucketize_value 0)")
    elif src.get("num_buckets", int, 0) > 0:
        msg.num_buckets = src.get("num_buckets", int)
        src.say(
            "num_buckets: an id outside [0, num_buckets) has no embedding (zeros) in "
            "easymtl; EasyRec gives it id 0",
            differs=True,
        )
    else:
        src.fail(
            "hash_bucket_size",
            f"{name!r} needs hash_bucket_size, vocab_list, vocab_file or num_buckets",
        )


@feature_kind("IdFeature")
def convert_id(src: Src, name: str, inputs: list[str], out) -> None:
    msg = out.id_feature
    _names(src, msg, name, inputs[0])
    if len(inputs) > 1:
        src.fail("input_names", "an IdFeature reads one input")
    _embedding(src, msg, name)
    _ids(src, msg, name)
    _pooling(src, msg)
    src.drop("separator", "EasyRec's IdFeature is one value per row")
    src.drop("kv_separator", "EasyRec's IdFeature is one value per row")


@feature_kind("TagFeature")
def convert_tag(src: Src, name: str, inputs: list[str], out) -> None:
    msg = out.id_feature
    _names(src, msg, name, inputs[0])
    if len(inputs) > 1:
        src.fail(
            "input_names",
            "weights in a second column are not read by easymtl; write "
            "the cell as 'id:weight' items and set kv_separator: ':'",
        )
    _embedding(src, msg, name)
    _ids(src, msg, name)
    _pooling(src, msg)
    msg.separator = src.get("separator", str, "|")
    src.say(
        f"separator {msg.separator!r}" + ("" if src.has("separator") else " (EasyRec's default)")
    )
    kv = src.get("kv_separator", str, None)
    if kv is not None:
        if kv != ":":
            src.fail("kv_separator", f"{kv!r}: easymtl reads 'id:weight' items (kv_separator ':')")
        msg.weighted = True
        src.say("kv_separator ':' -> weighted (id:weight items)")


@feature_kind("RawFeature")
def convert_raw(src: Src, name: str, inputs: list[str], out) -> None:
    msg = out.raw_feature
    _names(src, msg, name, inputs[0])
    if len(inputs) > 1:
        src.fail("input_names", "a RawFeature reads one input")
    low, high = src.get("min_val", float, 0.0), src.get("max_val", float, 0.0)
    buckets = src.get("num_buckets", int, 0)
    boundaries = sorted(src.get_list("boundaries", float))
    if boundaries:
        if high > low:  # EasyRec bucketizes the value scaled to [0, 1]
            boundaries = [low + b * (high - low) for b in boundaries]
            src.say("boundaries of the value scaled by min_val/max_val -> boundaries of the value")
        else:
            src.say("boundaries (sorted)")
        msg.boundaries.extend(boundaries)
    elif buckets > 1 and high > low:
        msg.boundaries.extend(low + i * (high - low) / buckets for i in range(buckets))
        src.say(f"num_buckets {buckets} over [min_val, max_val] -> boundaries")
    elif high > low:
        msg.normalizer = f"method=minmax,min={low:g},max={high:g}"
        src.say("min_val/max_val -> normalizer minmax")
    if msg.boundaries:
        _embedding(src, msg, name)
    elif src.get("embedding_dim", int, 0):
        src.fail(
            "embedding_dim",
            "EasyRec projects a raw value to embedding_dim; easymtl's "
            "raw_feature is the value itself: remove embedding_dim or give boundaries",
        )
    _pooling(src, msg)
    dim = src.get("raw_input_dim", int, 1)
    if dim > 1:
        msg.value_dim = dim
        msg.separator = src.get("separator", str, "|")
        src.say(f"raw_input_dim -> value_dim, separator {msg.separator!r}")
    else:
        src.drop("separator", "a one-value RawFeature")
    if src.has("normalizer_fn"):
        src.nodes("normalizer_fn")
        src.fail(
            "normalizer_fn",
            "a Python function is not part of an easymtl config; use "
            "min_val/max_val, or transform the column beforehand",
        )
    for field in ("seq_multi_sep", "kv_separator"):
        if src.has(field):
            src.nodes(field)
            src.fail(field, "multi-value raw features are not converted; remove it")


@feature_kind("ComboFeature")
def convert_combo(src: Src, name: str, inputs: list[str], out) -> None:
    msg = out.combo_feature
    msg.feature_name = name
    if not src.has("feature_name"):
        src.fail("feature_name", "EasyRec's ComboFeature needs a feature_name")
    src.keep("feature_name")
    msg.expression.extend(inputs)
    src.say("input_names -> expression (crossed)")
    if len(inputs) < 2:
        src.fail("input_names", "a ComboFeature crosses two or more inputs")
    _embedding(src, msg, name)
    if src.has("hash_bucket_size"):
        msg.hash_bucket_size = src.get("hash_bucket_size", int, keep="hash_bucket_size")
    elif src.has("vocab_list"):
        msg.vocab_list.extend(src.get_list("vocab_list"))
        src.keep("vocab_list")
    else:
        src.fail("hash_bucket_size", "a ComboFeature needs hash_bucket_size")
    _pooling(src, msg)
    seps = {s for s in src.get_list("combo_input_seps") if s}
    if len(seps) > 1:
        src.fail("combo_input_seps", "easymtl splits every input by one separator")
    elif seps:
        msg.separator = seps.pop()
        src.say(f"combo_input_seps -> separator {msg.separator!r}")
    src.drop("combo_join_sep", "the joined combination is hashed; its separator is immaterial")
    src.drop("separator", "unused by EasyRec's ComboFeature")
    src.say(
        "crosses hashed by easymtl's string hash (EasyRec: crossed_column's "
        "fingerprint): other bucket ids, the same feature",
        differs=True,
    )


@feature_kind("LookupFeature")
def convert_lookup(src: Src, name: str, inputs: list[str], out) -> None:
    msg = out.lookup_feature
    msg.feature_name = name
    src.keep("feature_name")
    if len(inputs) != 2:
        src.fail("input_names", "a LookupFeature reads a key column and a map column")
        return
    msg.key, msg.map = inputs
    src.say("input_names -> key, map")
    _embedding(src, msg, name)
    if not src.has("hash_bucket_size"):
        src.fail("hash_bucket_size", "EasyRec's LookupFeature needs hash_bucket_size")
    msg.hash_bucket_size = src.get("hash_bucket_size", int, 1, keep="hash_bucket_size")
    msg.need_discrete = True
    _pooling(src, msg)
    msg.separator = src.get("separator", str, "|")
    src.say(f"separator {msg.separator!r} (of the map's items)")
    kv = src.get("kv_separator", str, ":")
    if kv != ":":
        src.fail("kv_separator", f"{kv!r}: easymtl reads 'key:value' items (kv_separator ':')")
    src.drop("lookup_max_sel_elem_num", "easymtl takes a key's first item")


@feature_kind("SequenceFeature")
def convert_sequence(src: Src, name: str, inputs: list[str], out) -> None:
    raw = src.get("sub_feature_type", FEATURE_TYPES, "IdFeature") == "RawFeature"
    msg = out.sequence_raw_feature if raw else out.sequence_id_feature
    _names(src, msg, name, inputs[0])
    msg.sequence_delim = src.get("separator", str, "|")
    src.say(f"separator {msg.sequence_delim!r} -> sequence_delim")
    length = src.get("max_seq_len", int, 0)
    if not length:
        src.fail("max_seq_len", "easymtl keeps a bounded number of items; set max_seq_len")
    msg.sequence_length = max(length, 1)
    src.keep("max_seq_len", "sequence_length")
    if raw:
        boundaries = sorted(src.get_list("boundaries", float))
        msg.boundaries.extend(boundaries)
        if boundaries:
            _embedding(src, msg, name)
        src.drop("sequence_length", "the sequence is max_seq_len items long")
    else:
        _embedding(src, msg, name)
        _ids(src, msg, name)
        src.drop("sequence_length", "used by raw sub-features only")
    if src.has("seq_multi_sep"):
        src.nodes("seq_multi_sep")
        src.fail("seq_multi_sep", "items of several values are not converted; remove it")
    if src.has("sequence_combiner"):
        src.nodes("sequence_combiner")
        src.fail(
            "sequence_combiner",
            "EasyRec's attention / text_cnn pooling of a sequence "
            "in a plain group is not in easymtl; use it in a DIN group (seq_att_groups)",
        )
    _pooling(src, msg) if not raw else src.drop("combiner", "raw items")


@feature_kind("ExprFeature")
def convert_expr(src: Src, name: str, inputs: list[str], out) -> None:
    src.get("expression")
    src.nodes("expression")
    src.fail(
        "feature_type",
        "ExprFeature: easymtl has no expression feature yet; compute the "
        "value into a column and read it with a RawFeature",
    )
