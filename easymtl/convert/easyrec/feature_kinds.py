"""The converter of each EasyRec feature_type (registered in FEATURE_KINDS of
:mod:`easymtl.convert.easyrec.features`, whose docstring has their meaning)."""

from __future__ import annotations

from easymtl.convert.easyrec.features import FEATURE_TYPES, feature_kind
from easymtl.convert.record import Src

# The sequence_length of a SequenceFeature without max_seq_len (EasyRec keeps every item;
# easymtl pads a batch to its longest kept sequence, so a high bound costs nothing).
UNBOUNDED_SEQ_LEN = 10000


def set_names(src: Src, msg, name: str, column: str) -> None:
    msg.feature_name = name
    if column != name:
        msg.expression = column
    src.say("input_names -> expression" if column != name else "input_names (its column)")
    if src.has("feature_name"):
        src.keep("feature_name")


def set_embedding(src: Src, msg, name: str, needed: bool = True) -> None:
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


def set_pooling(src: Src, msg) -> None:
    combiner = src.get("combiner", str, "sum")
    if combiner not in ("sum", "mean"):
        src.fail("combiner", f"{combiner!r}: easymtl pools by 'sum' or 'mean'")
    msg.pooling = combiner if combiner in ("sum", "mean") else "sum"
    if src.has("combiner"):
        src.keep("combiner", "pooling")


def set_ids(src: Src, msg, name: str) -> None:
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
    set_names(src, msg, name, inputs[0])
    if len(inputs) > 1:
        src.fail("input_names", "an IdFeature reads one input")
    set_embedding(src, msg, name)
    set_ids(src, msg, name)
    set_pooling(src, msg)
    src.drop("separator", "EasyRec's IdFeature is one value per row")
    src.drop("kv_separator", "EasyRec's IdFeature is one value per row")


@feature_kind("TagFeature")
def convert_tag(src: Src, name: str, inputs: list[str], out) -> None:
    msg = out.id_feature
    set_names(src, msg, name, inputs[0])
    if len(inputs) > 1:
        src.fail(
            "input_names",
            "weights in a second column are not read by easymtl; write "
            "the cell as 'id:weight' items and set kv_separator: ':'",
        )
    set_embedding(src, msg, name)
    set_ids(src, msg, name)
    set_pooling(src, msg)
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
    set_names(src, msg, name, inputs[0])
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
    elif high > low:  # a dense value (or its projection) of the value scaled to [0, 1]
        msg.normalizer = f"method=minmax,min={low:g},max={high:g}"
        src.say("min_val/max_val -> normalizer minmax")
    if msg.boundaries:
        set_embedding(src, msg, name)
    elif src.get("embedding_dim", int, 0):
        # EasyRec embeds the values as weights of ids 0..raw_input_dim-1, summed: the
        # values times a learned [raw_input_dim, embedding_dim] matrix.
        set_embedding(src, msg, name)
        msg.mlp.SetInParent()
        src.say("embedding_dim without boundaries -> mlp {} (the value times a learned "
                "matrix, as EasyRec's projection)")  # fmt: skip
    set_pooling(src, msg)
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
    set_embedding(src, msg, name)
    if src.has("hash_bucket_size"):
        msg.hash_bucket_size = src.get("hash_bucket_size", int, keep="hash_bucket_size")
    elif src.has("vocab_list"):
        msg.vocab_list.extend(src.get_list("vocab_list"))
        src.keep("vocab_list")
    else:
        src.fail("hash_bucket_size", "a ComboFeature needs hash_bucket_size")
    set_pooling(src, msg)
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
    set_embedding(src, msg, name)
    if not src.has("hash_bucket_size"):
        src.fail("hash_bucket_size", "EasyRec's LookupFeature needs hash_bucket_size")
    msg.hash_bucket_size = src.get("hash_bucket_size", int, 1, keep="hash_bucket_size")
    msg.need_discrete = True
    set_pooling(src, msg)
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
    set_names(src, msg, name, inputs[0])
    msg.sequence_delim = src.get("separator", str, "|")
    src.say(f"separator {msg.sequence_delim!r} -> sequence_delim")
    length = src.get("max_seq_len", int, 0)
    if src.has("max_seq_len"):
        msg.sequence_length = max(length, 1)
        src.keep("max_seq_len", "sequence_length")
    else:
        msg.sequence_length = UNBOUNDED_SEQ_LEN
        src.say(
            f"sequence_length {UNBOUNDED_SEQ_LEN}: the first {UNBOUNDED_SEQ_LEN} items of a "
            "cell (EasyRec without max_seq_len keeps every item; set max_seq_len to bound it)",
            differs=True,
        )
    if raw:
        boundaries = sorted(src.get_list("boundaries", float))
        msg.boundaries.extend(boundaries)
        if boundaries:
            set_embedding(src, msg, name)
        src.drop("sequence_length", "the sequence is max_seq_len items long")
    else:
        set_embedding(src, msg, name)
        set_ids(src, msg, name)
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
    set_pooling(src, msg) if not raw else src.drop("combiner", "raw items")


@feature_kind("ExprFeature")
def convert_expr(src: Src, name: str, inputs: list[str], out) -> None:
    msg = out.expr_feature
    msg.feature_name = name
    if not src.has("feature_name"):
        src.fail("feature_name", "EasyRec's ExprFeature needs a feature_name")
    src.keep("feature_name")
    msg.expression = src.get("expression") or ""
    if not msg.expression:
        src.fail("expression", "EasyRec's ExprFeature needs its expression")
    src.keep("expression")
    msg.variables.extend(inputs)
    # EasyRec reads each variable as a number, an empty cell as its default_val or 0.
    msg.fill_missing = 0.0
    src.say("input_names -> variables; an empty variable reads as 0 (fill_missing 0); "
            "EasyRec's + - * / ( ) comparisons & | are easymtl's operators too")  # fmt: skip
